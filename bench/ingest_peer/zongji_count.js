// ingest_bench's peer: streams a server's binlog over the replication
// protocol with @vlasky/zongji from FILE:4, decoding every rows event (table
// maps, inserts, updates with both images, deletes) and storing nothing. It
// exits 0 as soon as it has seen EXPECTED row changes, or a commit that ends
// at END_FILE:END_POS (the server's end: then N may fall short, which the
// bench reports), and prints
//   rows N ms T
// where T is the time from this script's first line to that moment.
// Exit 1 on a zongji error, 3 when neither comes within TIMEOUT_S seconds
// (default 600).
//
//   node zongji_count.js HOST PORT USER PASSWORD FILE EXPECTED END_FILE END_POS
//                        [SERVER_ID] [TIMEOUT_S]
const started = process.hrtime.bigint();
const { default: ZongJi } = await import('@vlasky/zongji');

const [host, port, user, password, filename, expectedText, endFile, endPosText, serverIdText,
       timeoutText] = process.argv.slice(2);
const expected = Number(expectedText);
const endPos = Number(endPosText);
if (!host || !filename || !(expected > 0) || !endFile || !(endPos > 0)) {
  console.error('usage: node zongji_count.js HOST PORT USER PASSWORD FILE EXPECTED END_FILE ' +
                'END_POS [SERVER_ID] [TIMEOUT_S]');
  process.exit(2);
}

let rows = 0;
const zongji = new ZongJi({ host, port: Number(port), user, password });

function done(code, message) {
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (message) console.error(message);
  console.log(`rows ${rows} ms ${ms.toFixed(1)}`);
  // Exit at once: an orderly stop() would add its teardown to the time.
  process.exit(code);
}

zongji.on('binlog', (evt) => {
  if (evt.rows !== undefined) {
    rows += evt.rows.length;
    if (rows >= expected) done(0);
  } else if (evt.getTypeName() === 'Xid' && zongji.options.filename === endFile &&
             evt.nextPosition >= endPos) {
    done(0);
  }
});
zongji.on('error', (err) => done(1, `zongji: ${err.message}`));

setTimeout(() => done(3, `zongji: ${rows} of ${expected} rows within the timeout`),
           Number(timeoutText || 600) * 1000);

zongji.start({
  serverId: Number(serverIdText || 1001),
  startAtEnd: false,
  filename,
  position: 4,
  includeEvents: ['tablemap', 'writerows', 'updaterows', 'deleterows', 'xid'],
});
