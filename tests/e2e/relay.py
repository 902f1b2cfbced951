"""A tiny fault-injecting reverse proxy on 127.0.0.1, put in front of the helpdesk's API.

Deskpilot's host client talks to the helpdesk through it, so a test can make the "host"
answer 500 for the next N requests and then recover, and can see every request and the
answer it got. Everything else is forwarded unchanged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

#: hop-by-hop headers a proxy must not forward (RFC 9110 §7.6.1), plus what requests sets
_SKIP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "host",
    "content-length",
    "content-encoding",
}


@dataclass(frozen=True)
class Seen:
    """One request that passed through the relay, and the status it was answered with."""

    method: str
    path: str
    status: int
    injected: bool


class FaultRelay:
    """A threaded reverse proxy to ``upstream`` that can fail on purpose."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._fail_left = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="e2e-fault-relay"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` requests with 500 without forwarding them."""
        with self._lock:
            self._fail_left = count

    def injected(self) -> int:
        with self._lock:
            return sum(1 for s in self.seen if s.injected)

    def requests_since(self, mark: int) -> list[Seen]:
        with self._lock:
            return list(self.seen[mark:])

    def mark(self) -> int:
        with self._lock:
            return len(self.seen)

    def _take_fault(self) -> bool:
        with self._lock:
            if self._fail_left > 0:
                self._fail_left -= 1
                return True
            return False

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        relay = self
        session = requests.Session()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # the harness keeps its own record in ``seen``

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if relay._take_fault():
                    self._answer(
                        500, b'{"detail": "injected fault"}', {"Content-Type": "application/json"}
                    )
                    relay._record(Seen(self.command, self.path, 500, True))
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _SKIP}
                try:
                    resp = session.request(
                        self.command,
                        relay.upstream + self.path,
                        data=body,
                        headers=headers,
                        timeout=30,
                        allow_redirects=False,
                    )
                except requests.RequestException:
                    self._answer(
                        502,
                        b'{"detail": "upstream unreachable"}',
                        {"Content-Type": "application/json"},
                    )
                    relay._record(Seen(self.command, self.path, 502, False))
                    return
                kept = {k: v for k, v in resp.headers.items() if k.lower() not in _SKIP}
                self._answer(resp.status_code, resp.content, kept)
                relay._record(Seen(self.command, self.path, resp.status_code, False))

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        return Handler
