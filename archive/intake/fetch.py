"""`arkeep add URL`: download an installer with a record of where it came from.

The download streams to a partial file under state/downloads/ (named by the URL), so that an
interrupted one resumes where it stopped (Range, with If-Range on the validator the server gave);
only a complete download that matches any checksum the vendor published moves on to the store.
What is recorded: the URL asked for, every redirect and the final URL, when it finished, the HTTP
validators (ETag, Last-Modified, Content-Length, Content-Type), and the TLS server certificate's
fingerprint (with the whole verified chain where Python offers it, 3.13 and later).

Trust for TLS is the system's store (or `SSL_CERT_FILE`), plus any `--ca-file`. Every HTTP or
TLS failure is one clear error; a timeout bounds every connect and read.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from archive.errors import EnvironmentFailure, IntegrityError, UsageError
from archive.intake import openpgp
from archive.intake.download_request import FetchOptions, is_url
from archive.intake.trust import store_trusted
from archive.storage.store import Store
from archive.system import durable
from manifests.provenance import Download
from manifests.schema import unsafe_filename_reason

CHUNK = 1024 * 1024
MAX_REDIRECTS = 10
MAX_CHECKSUM_FILE = 1024 * 1024
PART_KEEP_DAYS = 30
USER_AGENT = "arkeep (archiving an installer; https://example.invalid/arkeep)"
HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True)
class Fetched:
    path: Path                        # the complete download, named as the vendor names it
    record: Download
    final_url: str
    retrieved: datetime


@dataclass
class _Response:
    url: str
    status: int
    headers: http.client.HTTPMessage
    body: http.client.HTTPResponse
    conn: http.client.HTTPConnection
    certificates: tuple[str, ...] = ()
    tls_version: str | None = None
    server_subject: str | None = None
    redirects: list[str] = field(default_factory=list)


def tls_context(ca_files: tuple[Path, ...]) -> ssl.SSLContext:
    """The system's trust store (or SSL_CERT_FILE), plus the user's files."""
    context = ssl.create_default_context()
    for path in ca_files:
        try:
            context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot use {path} as trusted certificates: {exc}") from None
    return context


@contextlib.contextmanager
def fetched(store: Store, urls: list[str], options: FetchOptions,
            progress_for: Callable[[str, int], Callable[[int], None] | None] | None = None
            ) -> Iterator[list[Fetched]]:
    """Download each URL (resuming a partial download) and yield the complete files; they are
    removed afterwards, whatever happens. Call it while holding the store's lock."""
    if (options.sha256 or options.sha512 or options.checksums) and len(urls) != 1:
        raise UsageError("--sha256, --sha512 and --checksums name the checksum of one download")
    if options.checksums_signature and not options.checksums:
        raise UsageError("--checksums-signature signs a checksums file: give --checksums too")
    context = tls_context(options.ca_files)
    options = replace(options, openpgp_keys=(*options.openpgp_keys,
                                             *store_trusted(store.root, "openpgp")))
    work = Path(tempfile.mkdtemp(dir=store.tmp_dir, prefix="download-"))
    try:
        yield [_fetch_one(store, url, options, context, work, progress_for) for url in urls]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _forget_stale_parts(parts_dir: Path, now: float) -> None:
    """Partial downloads nobody resumed for PART_KEEP_DAYS are deleted: the server has likely
    replaced the file by then, and the bytes would only take room."""
    for path in parts_dir.glob("*.*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > PART_KEEP_DAYS * 86400:
                path.unlink()


@contextlib.contextmanager
def fetched_small(store: Store, urls: list[str], options: FetchOptions) -> Iterator[list[Path]]:
    """Small files named by URL (detached signatures, at most 1 MiB each), saved under the name
    their URL ends in; removed afterwards. Call it while holding the store's lock."""
    context = tls_context(options.ca_files)
    work = Path(tempfile.mkdtemp(dir=store.tmp_dir, prefix="small-"))
    try:
        paths = []
        for url in urls:
            name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
            if not name or unsafe_filename_reason(name) is not None:
                raise UsageError(f"{url} does not end in a file name")
            target = work / name
            target.write_bytes(_read_small(url, options, context))
            paths.append(target)
        yield paths
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fetch_one(store: Store, url: str, options: FetchOptions, context: ssl.SSLContext, work: Path,
               progress_for: Callable[[str, int], Callable[[int], None] | None] | None) -> Fetched:
    parts_dir = store.root / "state" / "downloads"
    parts_dir.mkdir(parents=True, exist_ok=True)
    _forget_stale_parts(parts_dir, time.time())
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]
    part, meta_path = parts_dir / f"{key}.part", parts_dir / f"{key}.json"
    meta = _read_meta(meta_path) if part.is_file() else {}
    have = part.stat().st_size if part.is_file() and meta else 0
    headers = {}
    if have and (meta.get("etag") or meta.get("last_modified")):
        headers = {"Range": f"bytes={have}-", "If-Range": meta.get("etag") or meta["last_modified"]}
    else:
        have = 0
    response = _open(url, headers, context, options.timeout)
    try:
        resumed = have if response.status == 206 else 0
        if response.status not in (200, 206):
            raise EnvironmentFailure(f"{response.url}: the server answered {response.status} "
                                     f"{response.body.reason}; nothing was archived")
        total = _total_size(response, resumed)
        if total is not None and total > options.max_size:
            raise UsageError(f"{response.url} is {total:,} bytes, more than --max-size "
                             f"({options.max_size:,})")
        etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        _write_meta(meta_path, {"url": url, "etag": etag, "last_modified": modified})
        name = _file_name(response)
        progress = progress_for(name, total) if progress_for and total else None
        hashers = {"sha256": hashlib.sha256(), "sha512": hashlib.sha512()}
        with open(part, "r+b" if resumed else "wb") as out:
            if resumed:
                _hash_prefix(out, resumed, hashers, progress)
                out.seek(resumed)
            size = resumed + _stream(response, out, hashers, progress, options, resumed)
            out.flush()
            os.fsync(out.fileno())
    except TimeoutError:
        raise EnvironmentFailure(f"{url}: the server stopped answering for {options.timeout:g} s; "
                                 "run the same command again to resume the download") from None
    except (http.client.IncompleteRead, ConnectionError) as exc:
        raise EnvironmentFailure(f"{url}: the connection was lost ({type(exc).__name__}); run the "
                                 "same command again to resume the download") from None
    except OSError as exc:
        raise EnvironmentFailure(f"{url}: {exc.strerror or exc}") from None
    finally:
        response.conn.close()
    if total is not None and size != total:
        raise EnvironmentFailure(f"{url}: the server sent {size:,} of {total:,} bytes; run the same "
                                 "command again to resume the download")
    digests = {name_: h.hexdigest() for name_, h in hashers.items()}
    try:
        checked, source, signed = _check_sums(digests, name, options, context, work)
    except IntegrityError:
        part.unlink(missing_ok=True)      # wrong bytes: the next try starts afresh
        meta_path.unlink(missing_ok=True)
        raise
    retrieved = datetime.now(UTC).replace(microsecond=0)
    target = work / name
    durable.publish(part, target)
    meta_path.unlink(missing_ok=True)
    record = Download(
        requested_url=url, redirects=tuple(response.redirects), status=response.status,
        etag=etag, last_modified=modified,
        content_length=_int(response.headers.get("Content-Length")) if not resumed else total,
        content_type=response.headers.get("Content-Type"), resumed_from=resumed or None,
        tls_version=response.tls_version, server_subject=response.server_subject,
        server_certificates=response.certificates, sha256=digests["sha256"],
        checksums=tuple(checked), checksum_source=source, checksums_openpgp=signed)
    return Fetched(target, record, response.url, retrieved)


def _open(url: str, headers: dict[str, str], context: ssl.SSLContext, timeout: float) -> _Response:
    """Follow redirects (at most MAX_REDIRECTS, never from https to http) to the answer."""
    redirects: list[str] = []
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"{current!r} is not an http or https URL")
        if redirects and parts.scheme == "http" and urlsplit(url).scheme == "https":
            raise EnvironmentFailure(f"{url} redirects to plain http ({current}); refused")
        conn = _connection(parts, context, timeout)
        try:
            conn.connect()
            certificates, version, subject = _peer(conn)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity",
                                               **headers})
            body = conn.getresponse()
        except ssl.SSLCertVerificationError as exc:
            conn.close()
            raise EnvironmentFailure(f"{current}: the server's TLS certificate is not trusted "
                                     f"({exc.verify_message}); give --ca-file F to trust its root") from None
        except ssl.SSLError as exc:
            conn.close()
            raise EnvironmentFailure(f"{current}: TLS failed ({exc.reason or exc})") from None
        except TimeoutError:
            conn.close()
            raise EnvironmentFailure(f"{current}: no answer within {timeout:g} s") from None
        except OSError as exc:
            conn.close()
            raise EnvironmentFailure(f"{current}: cannot connect ({exc.strerror or exc})") from None
        except http.client.HTTPException as exc:
            conn.close()
            raise EnvironmentFailure(f"{current}: the server's answer is not HTTP ({type(exc).__name__})") from None
        if body.status in (301, 302, 303, 307, 308):
            location = body.getheader("Location")
            body.read(64 * 1024)
            conn.close()
            if not location:
                raise EnvironmentFailure(f"{current}: a redirect ({body.status}) without a Location")
            current = urljoin(current, location)
            redirects.append(current)
            continue
        return _Response(current, body.status, body.headers, body, conn, certificates, version,
                         subject, redirects)
    raise EnvironmentFailure(f"{url}: more than {MAX_REDIRECTS} redirects")


def _connection(parts: object, context: ssl.SSLContext, timeout: float) -> http.client.HTTPConnection:
    host, port = parts.hostname, parts.port  # type: ignore[attr-defined]
    if parts.scheme == "https":  # type: ignore[attr-defined]
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def _peer(conn: http.client.HTTPConnection) -> tuple[tuple[str, ...], str | None, str | None]:
    """SHA-256 fingerprints of the server's certificates (the verified chain where Python has
    it, else the server's own), the TLS version and the server certificate's subject."""
    sock = conn.sock
    if not isinstance(sock, ssl.SSLSocket):
        return (), None, None
    chain_of = getattr(sock, "get_verified_chain", None)
    ders: list[bytes] = []
    if chain_of is not None:
        with contextlib.suppress(Exception):
            ders = [c if isinstance(c, bytes) else c.public_bytes(ssl.ENCODING_DER) for c in chain_of()]
    if not ders:
        leaf = sock.getpeercert(binary_form=True)
        ders = [leaf] if leaf else []
    subject = None
    if ders:
        from cryptography import x509
        with contextlib.suppress(ValueError):
            subject = x509.load_der_x509_certificate(ders[0]).subject.rfc4514_string()
    return tuple(hashlib.sha256(d).hexdigest() for d in ders), sock.version(), subject


def _total_size(response: _Response, resumed: int) -> int | None:
    if response.status == 206:
        match = re.match(r"bytes (\d+)-(\d+)/(\d+)", response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != resumed:
            raise EnvironmentFailure(f"{response.url}: the server resumed at another byte than asked")
        return int(match.group(3))
    return _int(response.headers.get("Content-Length"))


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _file_name(response: _Response) -> str:
    disposition = response.headers.get("Content-Disposition", "")
    match = re.search(r"filename\*=UTF-8''([^;]+)|filename=\"?([^\";]+)\"?", disposition, re.IGNORECASE)
    candidates = []
    if match:
        candidates.append(unquote(match.group(1) or match.group(2)).strip())
    candidates.append(unquote(urlsplit(response.url).path.rsplit("/", 1)[-1]))
    for name in candidates:
        if name and unsafe_filename_reason(name) is None:
            return name
    return "download.bin"


def _hash_prefix(f: object, size: int, hashers: dict[str, object],
                 progress: Callable[[int], None] | None) -> None:
    f.seek(0)  # type: ignore[attr-defined]
    left = size
    while left:
        chunk = f.read(min(CHUNK, left))  # type: ignore[attr-defined]
        if not chunk:
            raise EnvironmentFailure("the partial download shrank while resuming; run again")
        for h in hashers.values():
            h.update(chunk)  # type: ignore[attr-defined]
        left -= len(chunk)
        if progress:
            progress(len(chunk))


def _stream(response: _Response, out: object, hashers: dict[str, object],
            progress: Callable[[int], None] | None, options: FetchOptions, start: int) -> int:
    got = 0
    while True:
        chunk = response.body.read(CHUNK)
        if not chunk:
            return got
        got += len(chunk)
        if start + got > options.max_size:
            raise UsageError(f"{response.url} grew past --max-size ({options.max_size:,} bytes)")
        out.write(chunk)  # type: ignore[attr-defined]
        for h in hashers.values():
            h.update(chunk)  # type: ignore[attr-defined]
        if progress:
            progress(len(chunk))


def _read_meta(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_meta(path: Path, data: dict[str, str | None]) -> None:
    path.write_text(json.dumps(data), "utf-8")


def _check_sums(digests: dict[str, str], name: str, options: FetchOptions,
                context: ssl.SSLContext, work: Path) -> tuple[list[str], str | None, str | None]:
    """The vendor's checksums this download matched ('sha256:HEX'), where they came from, and
    what the checksums file's OpenPGP signature said. A mismatch is an error: nothing is
    archived."""
    wanted: list[tuple[str, str, str]] = []
    signed = None
    if options.sha256:
        wanted.append(("sha256", options.sha256.lower(), "--sha256"))
    if options.sha512:
        wanted.append(("sha512", options.sha512.lower(), "--sha512"))
    if options.checksums:
        algorithm, value, signed = _from_checksum_file(options.checksums, name, options, context,
                                                       work)
        wanted.append((algorithm, value, options.checksums))
    for algorithm, value, _ in wanted:
        if not HEX.match(value) or len(value) != {"sha256": 64, "sha512": 128}[algorithm]:
            raise UsageError(f"{value[:140]!r} is not a {algorithm.upper()} digest "
                             f"({ {'sha256': 64, 'sha512': 128}[algorithm]} hex digits)")
        label = {"sha256": "SHA-256", "sha512": "SHA-512"}[algorithm]
        if digests[algorithm] != value:
            raise IntegrityError(f"{name}: its {label} is {digests[algorithm]}, the vendor "
                                 f"published {value}; nothing was archived")
    sources = sorted({src for *_, src in wanted})
    return [f"{a}:{v}" for a, v, _ in wanted], ", ".join(sources) or None, signed


def _from_checksum_file(where: str, name: str, options: FetchOptions, context: ssl.SSLContext,
                        work: Path) -> tuple[str, str, str | None]:
    data = _read_small(where, options, context)
    signed = None
    clearsigned = data.lstrip(b"\xef\xbb\xbf").startswith(openpgp.CLEARSIGNED)
    if clearsigned or options.checksums_signature:
        signed = _checksums_signature(where, data, options, context, work)
    text = data.decode("utf-8", "replace")
    if clearsigned:                       # only the signed text, not the armored signature
        body = text.split("-----BEGIN PGP SIGNATURE-----", 1)[0]
        text = body.split("\n\n", 1)[1] if "\n\n" in body else ""
    entries: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        bsd = re.match(r"^(SHA256|SHA512) \((.+)\) = ([0-9a-fA-F]+)$", line)
        if bsd:
            entries.append((bsd.group(3).lower(), bsd.group(2)))
            continue
        gnu = re.match(r"^([0-9a-fA-F]{64}|[0-9a-fA-F]{128})(?:\s+\*?(.+))?$", line)
        if gnu:
            entries.append((gnu.group(1).lower(), (gnu.group(2) or "").strip()))
    mine = [value for value, file in entries if file.rsplit("/", 1)[-1] == name]
    if not mine and len(entries) == 1 and not entries[0][1]:
        mine = [entries[0][0]]
    if not mine:
        raise UsageError(f"{where} names no checksum for {name}")
    value = mine[0]
    return ("sha256" if len(value) == 64 else "sha512"), value, signed


def _checksums_signature(where: str, data: bytes, options: FetchOptions, context: ssl.SSLContext,
                         work: Path) -> str:
    """Check the checksums file's OpenPGP signature (clearsigned, or the detached one given):
    'valid: USER ID (FINGERPRINT)' or 'no-key: …'; a signature that does not match is an error."""
    sums = work / "checksums"
    sums.write_bytes(data)
    detached = None
    if options.checksums_signature:
        detached = work / "checksums.sig"
        detached.write_bytes(_read_small(options.checksums_signature, options, context))
    result = openpgp.check(sums, detached, options.openpgp_keys)
    if result.verdict == openpgp.BAD_SIGNATURE:
        raise IntegrityError(f"{where}: the checksums file's OpenPGP signature does not match it; "
                             "nothing was archived")
    if result.verdict == openpgp.VALID:
        return f"valid: {result.user_id} ({result.primary_fingerprint})"
    return f"{result.verdict}: {result.reason}"


def _read_small(where: str, options: FetchOptions, context: ssl.SSLContext) -> bytes:
    if is_url(where):
        response = _open(where, {}, context, options.timeout)
        try:
            if response.status != 200:
                raise EnvironmentFailure(f"{where}: the server answered {response.status}")
            data = response.body.read(MAX_CHECKSUM_FILE + 1)
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise EnvironmentFailure(f"{where}: cannot read it ({exc})") from None
        finally:
            response.conn.close()
    else:
        try:
            with open(where, "rb") as f:
                data = f.read(MAX_CHECKSUM_FILE + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {where}: {exc.strerror or exc}") from None
    if len(data) > MAX_CHECKSUM_FILE:
        raise UsageError(f"{where} is larger than a checksums file ({MAX_CHECKSUM_FILE:,} bytes)")
    return data
