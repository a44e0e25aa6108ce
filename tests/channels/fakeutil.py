"""Scaffolding shared by the fake provider servers (fake_aliyun, fake_twilio,
fake_robots): a thread-safe JSONL log, a quiet keep-alive HTTP/1.1 handler,
a background poster for provider-to-us pushes, and a serve loop that prints the
ready line and stops cleanly on SIGTERM/SIGINT. Standard library only."""

import datetime as dt
import http.server
import json
import os
import queue
import signal
import socket
import ssl
import sys
import threading
import urllib.error
import urllib.request

UTC = dt.timezone.utc


def now_iso() -> str:
    """UTC, RFC 3339 with milliseconds and a Z: 2026-12-06T08:00:00.123Z."""
    return dt.datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class JsonlLog:
    """Append-only JSON-lines file. One line per write, flushed at once, so a
    test reading the file sees every line that was written before the reply."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            if self._file.closed:  # a background push finishing after shutdown
                return
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_jsonl(path: str) -> list[dict]:
    """Every complete line of an existing log (a torn last line is skipped)."""
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return records


class FakeServer(http.server.ThreadingHTTPServer):
    """One thread per connection (not per request: clients keep connections
    alive). Peers that vanish mid-request (a killed dispatcher) are normal in
    these tests, so those errors are not printed."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            return
        super().handle_error(request, client_address)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler: every reply carries Content-Length, nothing is
    printed per request, and Nagle is off so a reply is never held back
    waiting for the client's delayed ACK."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "fake"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status: int, obj, headers: dict | None = None):
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.reply(status, body, "application/json;charset=utf-8", headers)

    def drop_connection(self):
        """Close the connection without any answer: the request arrived and was
        acted on, but the client never learns the outcome (design doc §3.1 lossy)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def guarded(self, method):
        """Runs a request handler; a bug in the fake answers 500 (and prints
        the traceback to stderr) instead of hanging the client."""
        try:
            method()
        except (ConnectionError, TimeoutError, socket.timeout):
            self.close_connection = True
        except Exception:  # pragma: no cover - only on a bug in the fake
            import traceback

            traceback.print_exc()
            self.close_connection = True
            try:
                self.reply_json(500, {"error": "fake server bug"})
            except OSError:
                pass


# No proxy: pushes go to 127.0.0.1, whatever http_proxy says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_post(url: str, body: bytes, headers: dict, timeout: float = 5.0) -> tuple[int | None, bytes, str]:
    """POST; returns (status, body, error). status None = no HTTP answer."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read(), ""
    except urllib.error.HTTPError as e:
        try:
            data = e.read()
        except OSError:
            data = b""
        return e.code, data, ""
    except (OSError, ValueError) as e:
        return None, b"", f"{type(e).__name__}: {e}"


class BackgroundWorkers:
    """A queue drained by a few daemon threads; `work(first_item, queue)` is
    called with the first item and may take more from the queue (batching)."""

    def __init__(self, work, threads: int = 1):
        self.queue: "queue.Queue" = queue.Queue()
        self._work = work
        for i in range(threads):
            threading.Thread(target=self._run, name=f"push-{i}", daemon=True).start()

    def put(self, item):
        self.queue.put(item)

    def _run(self):
        while True:
            item = self.queue.get()
            try:
                self._work(item, self.queue)
            except Exception:  # pragma: no cover - only on a bug in the fake
                import traceback

                traceback.print_exc()


def serve(server: FakeServer, on_exit=None) -> None:
    """Prints `listening on <port>` once, serves until SIGTERM or SIGINT, then
    closes the socket and runs on_exit (e.g. closing the log); exit status 0."""
    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever() to return, which runs in
            # this (the main) thread: call it from another thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # HTTPS when the test hands a certificate and key (FAKE_TLS_CERT, FAKE_TLS_KEY): the
    # provider's real endpoints speak only TLS.
    cert = os.environ.get("FAKE_TLS_CERT")
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, os.environ["FAKE_TLS_KEY"])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if on_exit:
            on_exit()


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def pauses(text: str) -> list[float]:
    return [float(p) for p in text.split(",") if p.strip()]
