"""An HTTPS server on loopback with its own CA, for `add URL`: files with validators and Range,
redirects, a connection dropped mid-download, a server that never answers, and a 404."""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LAST_MODIFIED = "Tue, 04 Feb 2025 16:40:00 GMT"


@dataclass
class Site:
    files: dict[str, bytes] = field(default_factory=dict)
    texts: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)   # (path, Range)
    dropped: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)


def etag_of(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:16] + '"'


class Handler(BaseHTTPRequestHandler):
    site: Site

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        site = self.site
        site.requests.append((self.path, self.headers.get("Range")))
        kind, _, name = self.path.lstrip("/").partition("/")
        if kind == "go":
            self.send_response(302)
            self.send_header("Location", f"/files/{name}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind == "loop":
            self.send_response(302)
            self.send_header("Location", f"/loop/{name}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind == "files" and name in site.files:
            self._file(site.files[name])
        elif kind == "flaky" and name in site.files:
            data = site.files[name]
            if name in site.dropped or self.headers.get("Range"):
                self._file(data)
                return
            site.dropped.add(name)
            self._headers(200, data, len(data))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif kind == "silent":
            site.release.wait(30)
        elif kind == "text" and name in site.texts:
            self._headers(200, site.texts[name], len(site.texts[name]), "text/plain")
            self.end_headers()
            self.wfile.write(site.texts[name])
        else:
            self.send_error(404)

    def _headers(self, status: int, data: bytes, length: int,
                 content_type: str = "application/vnd.microsoft.portable-executable") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("ETag", etag_of(data))
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.send_header("Accept-Ranges", "bytes")

    def _file(self, data: bytes) -> None:
        wanted = self.headers.get("Range")
        if wanted and self.headers.get("If-Range") in (None, etag_of(data)):
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            self._headers(206, data, len(data) - start)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            self.wfile.write(data[start:])
            return
        self._headers(200, data, len(data))
        self.end_headers()
        self.wfile.write(data)


@dataclass
class HttpsServer:
    url: str
    ca_pem: Path
    server_cert_sha256: str
    site: Site
    server: ThreadingHTTPServer

    def stop(self) -> None:
        self.site.release.set()
        self.server.shutdown()
        self.server.server_close()


def make_ca_and_server_cert(work: Path) -> tuple[Path, Path, Path, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "arkeep test download CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "downloads.test")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    work.mkdir(parents=True, exist_ok=True)
    (work / "ca.pem").write_bytes(ca.public_bytes(pem))
    (work / "server.pem").write_bytes(cert.public_bytes(pem))
    (work / "server.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    der = cert.public_bytes(serialization.Encoding.DER)
    return work / "ca.pem", work / "server.pem", work / "server.key", hashlib.sha256(der).hexdigest()


def start(work: Path) -> HttpsServer:
    ca, cert, key, fingerprint = make_ca_and_server_cert(work)
    site = Site()
    handler = type("SiteHandler", (Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return HttpsServer(f"https://127.0.0.1:{server.server_address[1]}", ca, fingerprint, site, server)
