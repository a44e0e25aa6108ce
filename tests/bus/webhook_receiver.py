#!/usr/bin/env python3
"""A webhook receiver for arrears' events, as a bank's system would run one (standard
library only). It checks each POST's X-Arrears-Signature (t=T,v1=HEX, HEX being
HMAC-SHA256 with the shared secret over "T." + body), answers 500 to the first
--fail-first requests (so the sender must retry), and logs every request as a JSON line:
{"event_id", "type", "caseid", "auditseq", "signature_ok", "status"}.

Usage: webhook_receiver.py --secret S --log FILE [--port P] [--fail-first N]
Prints "ready PORT" once listening; stops on SIGTERM.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import signal
import sys
import threading


def signature_ok(secret: bytes, header: str, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    want = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts["v1"])


def self_test() -> None:
    # RFC 4231 test case 2, then a header of the form the sender writes.
    assert hmac.new(b"Jefe", b"what do ya want for nothing?", hashlib.sha256).hexdigest() == \
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    body = b'{"id":"arrears-1"}'
    v1 = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature_ok(b"k", f"t=1700000000,v1={v1}", body)
    assert not signature_ok(b"k", f"t=1700000001,v1={v1}", body)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--secret", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fail-first", type=int, default=0)
    args = ap.parse_args()
    self_test()
    secret = args.secret.encode()
    lock = threading.Lock()
    state = {"failures_left": args.fail_first}
    log = open(args.log, "a", encoding="utf-8")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok = signature_ok(secret, self.headers.get("X-Arrears-Signature", ""), body)
            try:
                event = json.loads(body)
            except ValueError:
                event = {}
            with lock:
                if state["failures_left"] > 0:
                    state["failures_left"] -= 1
                    status = 500
                else:
                    status = 204 if ok else 401
                log.write(json.dumps({
                    "event_id": event.get("id"), "header_id": self.headers.get("X-Arrears-Event-Id"),
                    "type": event.get("type"), "caseid": event.get("caseid"),
                    "auditseq": event.get("auditseq"), "signature_ok": ok, "status": status,
                    "content_type": self.headers.get("Content-Type"),
                }) + "\n")
                log.flush()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()
    log.close()


if __name__ == "__main__":
    sys.exit(main())
