"""Real receivers of notices on loopback: an SMTP server (aiosmtpd) that asks for a login, and an
HTTP server (http.server in a thread) that keeps every request; and a port nobody listens on."""
from __future__ import annotations

import email
import email.policy
import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

SMTP_USER, SMTP_PASSWORD = "arkeep-mailer", "smtp-Pa55-word-Q7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    port: int
    raw: list[bytes] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    def url(self, to: str = "owner@example.org") -> str:
        return (f"mailto://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{self.port}"
                f"?from=arkeep@example.org&to={to}&mode=insecure")

    def texts(self) -> list[str]:
        """Each message's subject and decoded text parts (bodies may be base64 or QP)."""
        out = []
        for data in self.raw:
            msg = email.message_from_bytes(data, policy=email.policy.default)
            parts = [str(msg["subject"])]
            for part in msg.walk():
                if part.get_content_maintype() == "text":
                    parts.append(part.get_content())
            out.append("\n".join(parts))
        return out


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            box.raw.append(envelope.original_content or envelope.content)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER \
            and auth_data.password.decode() == SMTP_PASSWORD
        if ok:
            box.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port,
                            authenticator=authenticator, auth_require_tls=False,
                            auth_required=True)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class HttpReceiver:
    port: int
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)   # method, path, body

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, prefix: str) -> list[bytes]:
        return [body for _, path, body in self.requests if path.startswith(prefix)]


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _keep(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            receiver.requests.append((self.command, self.path, self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_POST = do_GET = do_HEAD = _keep

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
