#!/usr/bin/env python3
"""Publishes N payments in the API's JSON on a NATS subject, for the consumer's benchmark.

Speaks the NATS client protocol over a socket (standard library only): makes the JetStream
stream on the subject if there is none ($JS.API.STREAM.CREATE), sends each payment with PUB,
and waits for the server's PONG, so that every message has reached the stream when it returns.
Usage: nats-publish-payments.py LOANS_CSV N STREAM SUBJECT DATE NEXT [HOST:PORT]
Payments go to random loans of LOANS_CSV (seeded), value dated DATE (70%) or NEXT (30%).
"""
import csv
import json
import random
import socket
import sys


def main():
    loans_csv, n, stream, subject, date, nxt = sys.argv[1:7]
    host, port = (sys.argv[7] if len(sys.argv) > 7 else "127.0.0.1:4222").split(":")
    n = int(n)
    with open(loans_csv, newline="") as f:
        loans = [row["loan_id"] for row in csv.DictReader(f)]
    s = socket.create_connection((host, int(port)))
    s.recv(4096)
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nSUB _INBOX.bench 1\r\n')
    config = json.dumps({"name": stream, "subjects": [subject], "storage": "file"}).encode()
    s.sendall(b"PUB $JS.API.STREAM.CREATE.%s _INBOX.bench %d\r\n%s\r\n" % (stream.encode(), len(config), config))
    reply = s.recv(65536)
    if b"error" in reply and b"already in use" not in reply:
        sys.exit(f"creating stream {stream}: {reply!r}")
    rnd = random.Random(42)
    out = bytearray()
    for i in range(n):
        body = json.dumps({
            "payment_id": f"BP{i:08d}",
            "loan_id": loans[rnd.randrange(len(loans))],
            "paid_on": date if rnd.random() < 0.7 else nxt,
            "amount": str(1 + rnd.randrange(40)),
            "channel": "core",
        }).encode()
        out += b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(body), body)
        if len(out) > 1 << 20:
            s.sendall(out)
            out.clear()
    s.sendall(bytes(out) + b"PING\r\n")
    buf = b""
    while b"PONG" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("the server closed the connection")
        buf += chunk
    print(f"published {n} payments on {subject} (stream {stream})")


if __name__ == "__main__":
    main()
