#!/usr/bin/python3
"""One member of a Kafka consumer group reading a sluice destination, for
tests/integration/kafka_clients_test.cc. Two client libraries, as Debian
packages them: confluent-kafka (librdkafka) and kafka-python.

Prints, one per line and flushed at once:
  ASSIGNED <partitions>     after each rebalance (e.g. "ASSIGNED 0", "ASSIGNED -")
  R <offset>                each record received
  C <offset>                a synchronous commit: every record below it is done
  E <error>                 a commit the broker refused (during a rebalance, or
                            after a failover before the member rejoined): the
                            records since the last commit come again
Commits after every --batch records and when the stream is idle. Runs until
killed, or until --stop-after seconds with no record. With --hang-at N
--hang-mark FILE, the first member of the group to print record N (the one
that creates FILE) stops doing anything: a consumer that hangs in the middle
of a batch, to be killed there.
"""
import argparse
import os
import sys
import time


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def commit(do_commit, offset):
    """Commits synchronously; a refused commit is said and skipped, as an
    application does (the group redelivers from its last commit)."""
    try:
        do_commit()
        say("C %d" % offset)
    except Exception as e:  # KafkaException, CommitFailedError, ...
        say("E %s" % str(e).replace("\n", " "))


def hang(a, offset):
    if a.hang_at is None or offset != a.hang_at:
        return
    try:
        os.close(os.open(a.hang_mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    while True:
        time.sleep(60)


def run_confluent(a):
    from confluent_kafka import Consumer, TopicPartition

    conf = {
        "bootstrap.servers": a.bootstrap,
        "group.id": a.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": a.session_timeout_ms,
        "heartbeat.interval.ms": max(a.session_timeout_ms // 6, 100),
        "fetch.wait.max.ms": 100,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": a.user,
        "sasl.password": a.password,
    }
    if os.environ.get("KAFKA_DEBUG"):
        conf["debug"] = os.environ["KAFKA_DEBUG"]
    c = Consumer(conf)

    def on_assign(consumer, parts):
        say("ASSIGNED " + (",".join(str(p.partition) for p in parts) or "-"))

    def on_revoke(consumer, parts):
        say("REVOKED")

    c.subscribe([a.topic], on_assign=on_assign, on_revoke=on_revoke)
    pending = None
    since = 0
    last = time.time()
    while True:
        m = c.poll(0.2)
        if m is None or m.error():
            if pending is not None:
                at = pending
                commit(lambda: c.commit(offsets=[TopicPartition(a.topic, 0, at)],
                                        asynchronous=False), at)
                pending = None
            if a.stop_after and time.time() - last > a.stop_after:
                break
            continue
        last = time.time()
        say("R %d" % m.offset())
        hang(a, m.offset())
        pending = m.offset() + 1
        since += 1
        if since >= a.batch:
            at = pending
            commit(lambda: c.commit(offsets=[TopicPartition(a.topic, 0, at)],
                                    asynchronous=False), at)
            pending = None
            since = 0
    c.close()


def run_kafka_python(a):
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    from kafka.consumer.subscription_state import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):
        def on_partitions_assigned(self, parts):
            say("ASSIGNED " + (",".join(str(p.partition) for p in parts) or "-"))

        def on_partitions_revoked(self, parts):
            say("REVOKED")

    c = KafkaConsumer(
        bootstrap_servers=a.bootstrap,
        group_id=a.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=a.session_timeout_ms,
        heartbeat_interval_ms=max(a.session_timeout_ms // 6, 100),
        fetch_max_wait_ms=100,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username=a.user,
        sasl_plain_password=a.password,
    )
    c.subscribe([a.topic], listener=Listener())
    tp = TopicPartition(a.topic, 0)
    pending = None
    since = 0
    last = time.time()
    while True:
        got = c.poll(timeout_ms=200)
        records = [r for batch in got.values() for r in batch]
        if not records:
            if pending is not None:
                at = pending
                commit(lambda: c.commit({tp: OffsetAndMetadata(at, None)}), at)
                pending = None
            if a.stop_after and time.time() - last > a.stop_after:
                break
            continue
        last = time.time()
        for r in records:
            say("R %d" % r.offset)
            hang(a, r.offset)
            pending = r.offset + 1
            since += 1
            if since >= a.batch:
                at = pending
                commit(lambda: c.commit({tp: OffsetAndMetadata(at, None)}), at)
                pending = None
                since = 0
    c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", choices=["confluent", "kafka-python"], required=True)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", default="shop")
    p.add_argument("--group", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--session-timeout-ms", type=int, default=3000)
    p.add_argument("--stop-after", type=float, default=0)
    p.add_argument("--hang-at", type=int)
    p.add_argument("--hang-mark")
    a = p.parse_args()
    (run_confluent if a.lib == "confluent" else run_kafka_python)(a)


if __name__ == "__main__":
    main()
