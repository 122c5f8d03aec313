// One member of a Kafka consumer group reading a sluice destination with
// kafkajs, for tests/integration/kafka_clients_test.cc: the same lines and
// flags as group_consumer.py (ASSIGNED, R <offset>, C <offset>, E <error>; --hang-at N
// --hang-mark FILE).
//
//   node group_consumer.js --bootstrap H:P --group g --user u --password pw
"use strict";
const fs = require("fs");
const { Kafka, logLevel } = require("kafkajs");

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
}
const topic = args.topic || "shop";
const batch = Number(args.batch || 100);
const sessionTimeout = Number(args["session-timeout-ms"] || 3000);
const hangAt = args["hang-at"] === undefined ? null : Number(args["hang-at"]);

function say(line) {
  fs.writeSync(1, line + "\n");
}

async function main() {
  const kafka = new Kafka({
    clientId: "sluice-test",
    brokers: args.bootstrap.split(","),
    sasl: { mechanism: "plain", username: args.user, password: args.password },
    logLevel: logLevel.ERROR,
  });
  const consumer = kafka.consumer({
    groupId: args.group,
    sessionTimeout,
    heartbeatInterval: Math.max(Math.floor(sessionTimeout / 6), 100),
    maxWaitTimeInMs: 100,
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const parts = e.payload.memberAssignment[topic] || [];
    say("ASSIGNED " + (parts.length ? parts.join(",") : "-"));
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let pending = null;
  let since = 0;
  let busy = false;  // inside eachMessage (or hung there): no idle commit
  let lastMessage = Date.now();
  const commit = async () => {
    const at = pending;
    pending = null;
    since = 0;
    try {
      await consumer.commitOffsets([{ topic, partition: 0, offset: String(at) }]);
      say("C " + at);
    } catch (e) {
      say("E " + String(e.message || e));  // redelivered from the last commit
    }
  };
  // Commits when the stream is idle (200 ms without a record), as
  // group_consumer.py does when a poll comes back empty.
  setInterval(() => {
    if (pending !== null && !busy && Date.now() - lastMessage >= 200) {
      commit().catch((e) => process.stderr.write(String(e) + "\n"));
    }
  }, 100);
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      busy = true;
      lastMessage = Date.now();
      const offset = Number(message.offset);
      say("R " + offset);
      if (hangAt !== null && offset === hangAt) {
        try {
          fs.closeSync(fs.openSync(args["hang-mark"], "wx"));
          await new Promise(() => {});  // hangs here until killed
        } catch (e) {
          if (e.code !== "EEXIST") throw e;
        }
      }
      pending = offset + 1;
      if (++since >= batch) await commit();
      busy = false;
    },
  });
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
