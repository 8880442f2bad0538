"""A webhook receiver for the event tests: a threaded HTTP server on 127.0.0.1 that records
every POST (headers, raw body, parsed CloudEvents, the signature check, the status it answered)
and answers as the test says:

- `status`: the status for every request (200 by default; 500 simulates a broken receiver);
- `reject_ids`, `reject`: event ids, or a predicate on events, answered 400 (a request
  containing such an event gets 400);
- `drop`: accept the request, then close the connection without answering;
- down: `stop()` (or never `start()`) closes the listening socket and every open connection,
  so the daemon sees "connection refused". The port is kept, so `start()` again comes back on
  the same URL.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCAL = "127.0.0.1"
PATH = "/hotline/events"


def sign(body: bytes, secret: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: bytes) -> bool:
    """The check a receiver does (docs/events.md): HMAC-SHA256 of the raw body, constant time."""
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(body, secret), "sha256=" + header[len("sha256="):].strip().lower())


@dataclass
class Received:
    at: float                      # time.monotonic() when the body was read
    path: str
    headers: dict[str, str]        # lower-case names
    body: bytes
    events: list[dict]             # the CloudEvents of the request (one for a single event)
    batch: bool                    # application/cloudevents-batch+json
    signature_ok: bool
    status: int | None = None      # what the receiver answered (None: dropped)
    parse_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def ids(self) -> list[str]:
        return [e.get("id") for e in self.events]


@dataclass
class WebhookReceiver:
    secret: bytes
    port: int = 0
    status: int = 200
    reject_ids: set[str] = field(default_factory=set)
    reject: Callable[[dict], bool] | None = None
    drop: bool = False
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.port == 0:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((LOCAL, 0))
                self.port = s.getsockname()[1]
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return f"http://{LOCAL}:{self.port}{PATH}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> "WebhookReceiver":
        if self._server is not None:
            return self
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                receiver._handle(self)

            def do_GET(self) -> None:
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

        last_error: OSError | None = None
        for _ in range(50):  # the port may linger in TIME_WAIT briefly after stop()
            try:
                server = ThreadingHTTPServer((LOCAL, self.port), Handler)
                break
            except OSError as e:
                last_error = e
                time.sleep(0.1)
        else:
            raise RuntimeError(f"webhook receiver cannot bind {LOCAL}:{self.port}: {last_error}")
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: no listener, and open keep-alive connections are cut."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> "WebhookReceiver":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ serving

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        events: list[dict] = []
        parse_error = None
        try:
            parsed = json.loads(body)
            if isinstance(parsed, list):
                events = parsed
            elif isinstance(parsed, dict):
                events = [parsed]
            else:
                parse_error = f"body is a JSON {type(parsed).__name__}"
        except ValueError as e:
            parse_error = str(e)
        rec = Received(time.monotonic(), h.path, headers, body, events,
                       ctype == "application/cloudevents-batch+json",
                       verify(body, headers.get("x-hotline-signature"), self.secret),
                       parse_error=parse_error)
        with self._lock:
            drop = self.drop
            if drop:
                status = None
            elif parse_error is not None:
                status = 400
            elif any(e.get("id") in self.reject_ids or (self.reject is not None and self.reject(e))
                     for e in events):
                status = 400
            else:
                status = self.status
            rec.status = status
            self.requests.append(rec)
            self._changed.notify_all()
        if status is None:
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        reply = b"" if 200 <= status < 300 else json.dumps({"error": f"test receiver says {status}"}).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(reply)))
        h.end_headers()
        h.wfile.write(reply)

    # ------------------------------------------------------------------ results

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def accepted(self) -> list[dict]:
        """Every event of every request answered 2xx, in arrival order (duplicates kept)."""
        return [e for r in self.snapshot() if r.ok for e in r.events]

    def delivered(self) -> dict[str, dict]:
        """Events acknowledged at least once, by id, in first-acknowledgement order."""
        out: dict[str, dict] = {}
        for e in self.accepted():
            out.setdefault(e.get("id"), e)
        return out

    def wait_until(self, predicate, timeout: float) -> bool:
        """Wait until `predicate(self)` is true (checked whenever a request arrives)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                self._lock.release()
                try:
                    if predicate(self):
                        return True
                finally:
                    self._lock.acquire()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.2))
