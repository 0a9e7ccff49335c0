"""Notices: telling the owner when something is wrong, by mail, chat or push (Apprise), and
Healthchecks-style pings that say a scheduled run started, succeeded or failed.

Configured in the store's arkeep.toml:

    [notify]
    urls = ["mailto://user:app-password@smtp.example.org?to=me@example.org", "ntfy://arkeep-me"]
    ping = "https://hc-ping.com/0f1e…"

An Apprise URL may hold a password or a token, so arkeep.toml is written readable by its owner
only once it holds one, and a URL is never shown whole: `notify list` shows its scheme and,
when it names a machine, its host and port (mask). A message is built from release ids, file names, remote
names, licence ids and dates, never from a licence key, a passphrase or the recovery code, and a
service's own error text reaches the user only after every part of its URL but the scheme and
host was blotted out of it.

A notice that cannot be delivered never stops the run that sends it: it is reported as failed.
"""
from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from archive.errors import MissingModule, UsageError
from archive.storage.store import Store

SECTION = "notify"
SEND_TIMEOUT = 30          # seconds per service
PING_TIMEOUT = 10
PING_SUFFIX = {"start": "/start", "success": "", "fail": "/fail"}
MAX_BODY = 60_000          # a notice lists at most this many characters of findings
CONFIG_MODE = 0o600


@dataclass(frozen=True)
class NotifyConfig:
    urls: tuple[str, ...] = ()
    ping: str | None = None

    @property
    def empty(self) -> bool:
        return not self.urls and not self.ping


@dataclass
class Delivery:
    target: str            # the masked URL
    kind: str              # notice | ping
    ok: bool
    reason: str = ""

    def data(self) -> dict[str, Any]:
        return {"target": self.target, "kind": self.kind, "ok": self.ok,
                "reason": self.reason or None}


@dataclass
class Notice:
    title: str
    lines: list[str] = field(default_factory=list)
    failure: bool = True

    @property
    def body(self) -> str:
        text = "\n".join(self.lines)
        if len(text) > MAX_BODY:
            text = text[:MAX_BODY].rsplit("\n", 1)[0] + "\n… (more: run the command by hand)"
        return text


# -- configuration ----------------------------------------------------------------------------

def load(store: Store) -> NotifyConfig:
    table = store.config.get(SECTION, {})
    if not isinstance(table, dict):
        raise UsageError(f"{store.config_path}: [notify] must be a table")
    urls = table.get("urls", [])
    ping = table.get("ping")
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls) \
            or not (ping is None or isinstance(ping, str)):
        raise UsageError(f"{store.config_path}: [notify] urls must be a list of strings and ping "
                         "a string")
    return NotifyConfig(tuple(urls), ping or None)


def _save(store: Store, cfg: NotifyConfig) -> None:
    config = store.config
    table: dict[str, Any] = {}
    if cfg.urls:
        table["urls"] = list(cfg.urls)
    if cfg.ping:
        table["ping"] = cfg.ping
    if table:
        config[SECTION] = table
    else:
        config.pop(SECTION, None)
    store.save_config(config, mode=CONFIG_MODE if table else None)


def check_url(url: str) -> None:
    """A URL Apprise knows how to send to, else UsageError (the URL itself not repeated)."""
    if not url or any(ch.isspace() for ch in url) or "://" not in url:
        raise UsageError("that is not an Apprise URL such as mailto://user:pass@example.org or "
                         "ntfy://topic (see https://github.com/caronc/apprise/wiki)")
    apprise = _apprise()
    if apprise.Apprise.instantiate(url) is None:
        raise UsageError(f"Apprise does not accept that {scheme_of(url)}:// URL (unknown service, "
                         "or a part missing); nothing was changed")


def check_ping(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("a ping URL is an http:// or https:// address, e.g. "
                         "https://hc-ping.com/<uuid>; nothing was changed")


def add(store: Store, url: str, ping: bool = False) -> str:
    """Add a notice URL, or set the ping URL; returns the masked form."""
    with store.writing("arkeep notify add"):
        cfg = load(store)
        if ping:
            check_ping(url)
            cfg = NotifyConfig(cfg.urls, url)
        else:
            check_url(url)
            if url in cfg.urls:
                raise UsageError(f"{mask(url)} is already configured; nothing was changed")
            cfg = NotifyConfig((*cfg.urls, url), cfg.ping)
        _save(store, cfg)
    return mask(url)


def remove(store: Store, which: str | None, ping: bool = False) -> str:
    """Remove a notice URL by its number in `notify list` (or the URL itself), or the ping."""
    with store.writing("arkeep notify remove"):
        cfg = load(store)
        if ping:
            if cfg.ping is None:
                raise UsageError("no ping URL is configured")
            gone = cfg.ping
            cfg = NotifyConfig(cfg.urls, None)
        else:
            index = _index(cfg, which or "")
            gone = cfg.urls[index]
            cfg = NotifyConfig(cfg.urls[:index] + cfg.urls[index + 1:], cfg.ping)
        _save(store, cfg)
    return mask(gone)


def _index(cfg: NotifyConfig, which: str) -> int:
    if which.isdigit() and 1 <= int(which) <= len(cfg.urls):
        return int(which) - 1
    if which in cfg.urls:
        return cfg.urls.index(which)
    count = len(cfg.urls)
    raise UsageError(f"no notice URL {which if which.isdigit() else 'like that'}: give its number "
                     f"in `arkeep notify list` (1 to {count})" if count else
                     "no notice URL is configured")


def listing(cfg: NotifyConfig) -> list[dict[str, Any]]:
    out = [{"number": n, "kind": "notice", "service": scheme_of(u), "url": mask(u)}
           for n, u in enumerate(cfg.urls, 1)]
    if cfg.ping:
        out.append({"number": None, "kind": "ping", "service": "ping", "url": mask(cfg.ping)})
    return out


# -- masking ----------------------------------------------------------------------------------

def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "?"


def _shown_host(url: str) -> str:
    """The host and port of a URL when they name a machine (a dot in it, an IP address,
    localhost), else "": many services put a token where a host goes (tgram://BOT-TOKEN/…,
    discord://WEBHOOK-ID/…, ntfy://TOPIC), and those must not be shown."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ""
    if not (host == "localhost" or "." in host or ":" in host):
        return ""
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def mask(url: str) -> str:
    """The URL as it may be shown: scheme and host, the rest as `…`. (Apprise's privacy form
    keeps path tokens of some services, such as ntfy topics or Healthchecks ids, which are
    secrets too: arkeep shows neither.)"""
    shown = _shown_host(url)
    rest = url.split("://", 1)[1] if "://" in url else url
    hidden = rest not in (shown, shown + "/")
    return f"{scheme_of(url)}://{shown}{'/…' if hidden and shown else '…' if hidden else ''}"


def _secret_parts(url: str) -> set[str]:
    """Every piece of a URL that could be a credential: all of it but the scheme and host."""
    parts: set[str] = set()
    host = _shown_host(url).rsplit(":", 1)[0].strip("[]") if _shown_host(url) else ""
    rest = url.split("://", 1)[1] if "://" in url else url
    for piece in [rest, *_split(rest)]:
        for form in (piece, urllib.parse.unquote(piece)):
            if len(form) >= 3 and form.lower() != host.lower() \
                    and not (form.isdigit() and len(form) <= 5):     # a port
                parts.add(form)
    return parts


def _split(text: str) -> Iterator[str]:
    word = []
    for ch in text:
        if ch in "/:@?&=#;,":
            if word:
                yield "".join(word)
            word = []
        else:
            word.append(ch)
    if word:
        yield "".join(word)


def scrub(text: str, urls: Iterable[str]) -> str:
    for url in urls:
        for part in sorted(_secret_parts(url), key=len, reverse=True):
            text = text.replace(part, "…")
    return text


# -- sending ----------------------------------------------------------------------------------

def _apprise() -> Any:
    try:
        import apprise
    except ImportError as exc:   # pinned in pyproject.toml; a broken install says what to do
        raise MissingModule.from_import_error(exc, "sending notices") from None
    return apprise


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):     # a log line that cannot be formatted is dropped
            return
        self.messages.append(message)


@contextmanager
def _quiet_apprise() -> Iterator[_Collect]:
    """Apprise's warnings, kept for us (scrubbed before use) instead of printed on stderr."""
    logger = logging.getLogger("apprise")
    handler = _Collect()
    old = logger.propagate, logger.handlers[:], logger.level
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        logger.propagate, logger.handlers, _ = old
        logger.setLevel(old[2])


def send(cfg: NotifyConfig, notice: Notice) -> list[Delivery]:
    """Send one notice to every configured URL; a failure is reported, never raised."""
    if not cfg.urls:
        return []
    try:
        apprise = _apprise()
    except MissingModule as exc:      # the run that sends still completes and says so
        return [Delivery(mask(url), "notice", False, str(exc)) for url in cfg.urls]
    kind = apprise.NotifyType.FAILURE if notice.failure else apprise.NotifyType.INFO
    out = []
    for url in cfg.urls:
        with _quiet_apprise() as log:
            try:
                sender = apprise.Apprise()
                ok = bool(sender.add(url)) and bool(sender.notify(
                    body=notice.body, title=notice.title, notify_type=kind,
                    timeout=SEND_TIMEOUT))
            except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the run
                ok, log.messages = False, [*log.messages, type(exc).__name__]
        reason = "" if ok else scrub("; ".join(dict.fromkeys(log.messages)) or
                                     "the service did not accept it", [url])
        out.append(Delivery(mask(url), "notice", ok, reason[:300]))
    return out


def ping(cfg: NotifyConfig, event: str, body: str = "") -> Delivery | None:
    """A Healthchecks-style ping: URL/start, URL (success) or URL/fail, the body a summary."""
    if not cfg.ping:
        return None
    import urllib.error  # HTTP and its client: loaded only when there is a ping to send
    import urllib.request

    url = cfg.ping.rstrip("/") + PING_SUFFIX[event]
    request = urllib.request.Request(url, data=body.encode("utf-8")[:10_000], method="POST",
                                     headers={"User-Agent": "arkeep"})
    try:
        with urllib.request.urlopen(request, timeout=PING_TIMEOUT) as response:
            response.read(1024)
        return Delivery(mask(cfg.ping), "ping", True)
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = scrub(str(getattr(exc, "reason", exc)), [cfg.ping])
    return Delivery(mask(cfg.ping), "ping", False, reason[:300])


def started(cfg: NotifyConfig) -> list[Delivery]:
    pinged = ping(cfg, "start")
    return [pinged] if pinged else []


def finished(cfg: NotifyConfig, notice: Notice | None, ok: bool, summary: str) -> list[Delivery]:
    """Send the notice (if any), then ping success or failure with a one-line summary."""
    out = send(cfg, notice) if notice is not None else []
    pinged = ping(cfg, "success" if ok else "fail", summary)
    return out + ([pinged] if pinged else [])
