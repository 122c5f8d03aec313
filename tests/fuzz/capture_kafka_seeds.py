#!/usr/bin/python3
"""Records what real Kafka clients send, as kafka_request_fuzz seeds.

A TCP proxy on 127.0.0.1: every connection is forwarded to TARGET, and the
bytes the client sent (its whole request stream: 4-byte lengths and bodies,
the fuzz target's input format, its first 64 KiB) are kept in
OUT_DIR/<prefix>-<pid>-<n>. kafka_clients_test runs every client through it when
SLUICE_KAFKA_CAPTURE names a directory:

  SLUICE_KAFKA_CAPTURE=tests/fuzz/corpus/kafka_request build/tests/kafka_clients_test

  capture_kafka_seeds.py TARGET_HOST:PORT OUT_DIR PORT_FILE
The proxy's port is written to PORT_FILE; it runs until killed.
"""
import os
import socket
import sys
import threading

MAX_SEED = 64 << 10  # longer streams are cut (the fuzzer mutates short inputs best)


def pump(src, dst, record, name):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if record is not None and len(record) < MAX_SEED:
                record.extend(b)
                with open(name, "wb") as f:  # as it goes: clients may be killed
                    f.write(bytes(record[:MAX_SEED]))
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    out_dir, port_file = sys.argv[2], sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    n = 0
    while True:
        c, _ = ls.accept()
        s = socket.create_connection((host, int(port)))
        n += 1
        record = bytearray()
        name = os.path.join(out_dir, "%s-%d-%d" % (os.environ.get("SEED_PREFIX", "c"), os.getpid(), n))

        def run(c=c, s=s, record=record, name=name):
            back = threading.Thread(target=pump, args=(s, c, None, None), daemon=True)
            back.start()
            pump(c, s, record, name)
            back.join()

        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    main()
