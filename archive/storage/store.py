"""The local store: content-addressed objects, manifests, the wrapped key and the store lock.

Layout (see docs/FORMAT.md): `arkeep.toml`, `key.toml`, `lock`, `objects/ab/cd/<64 hex>`,
`manifests/releases/*.toml`, `manifests/licenses/*.toml`, `state/`, `tmp/`.
Objects are written once and never modified: temp file in `tmp/`, fsync, rename, read-only.
"""
from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import tomli_w

from archive.errors import (
    IntegrityError,
    SecretNeeded,
    StoreMissing,
    UsageError,
    environment_error,
)
from archive.storage.hashing import (
    CHUNK,
    PIPELINE_FROM,
    Progress,
    copy_hashing,
    hash_file,
    new_hasher,
)
from archive.storage.objcrypt import ENC_SUFFIX
from archive.system import durable, oscompat
from manifests.catalog import Catalog

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

# keys (cryptography) and lock (socket, for the lock owner's host name) are imported where they
# are used: `arkeep list` and `show` need neither, and start-up time is a budget (docs/BENCHMARKS.md).

STORE_FORMAT = 1
INDEX_FILE = "catalog-index.sqlite"
HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class IngestResult:
    digest: str
    size: int
    new: bool


def default_store_path(environ: Mapping[str, str] | None = None, platform: str | None = None,
                       home: Path | None = None) -> Path:
    """$ARKEEP_STORE, else `arkeep` in the platform's data folder (oscompat.data_home, whose
    parameters these are)."""
    environ = os.environ if environ is None else environ
    env = environ.get("ARKEEP_STORE")
    if env:
        return Path(env).expanduser()
    return oscompat.data_home(platform, environ, home) / "arkeep"


def is_object_name(name: str) -> bool:
    return len(name) == 64 and set(name) <= HEX


def _write_toml(path: Path, table: dict[str, Any], mode: int = 0o644) -> None:
    """arkeep.toml or key.toml, durably, through `.tmp-*.toml` beside it (what `clean_tmp`
    clears after a crash); LF line ends on every platform."""
    durable.write_atomic(path, tomli_w.dumps(table), mode=mode, newline="\n", prefix=".tmp-",
                         suffix=".toml")


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.config_path = self.root / "arkeep.toml"
        self.key_path = self.root / "key.toml"
        self.objects_dir = self.root / "objects"
        self.state_dir = self.root / "state"
        # The index is a cache in state/ (list, search, look-ups, sync plans); see manifests/index.py.
        self.catalog = Catalog(self.root / "manifests", self.state_dir / INDEX_FILE)
        self.tmp_dir = self.root / "tmp"
        # How a writer meets a busy lock: give up at once (0), or wait (seconds; inf: no limit).
        self.lock_wait: float = 0.0
        self.lock_waiting: Callable[[str], None] | None = None
        # The key slot (archive/crypto/slots.py) the last unlock opened; None before one.
        self.unlocked_slot: str | None = None
        # Whether a command took the lock to write (the audit log records such commands).
        self.wrote = False
        self._tmp_cleaned = False

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, wrapped_key: dict[str, Any]) -> Store:
        root = Path(root)
        if (root / "arkeep.toml").exists():
            raise UsageError(f"{root} already holds an arkeep store; nothing was changed")
        if root.exists() and any(root.iterdir()):
            raise UsageError(f"{root} is not empty; choose an empty or new directory for the store")
        store = cls(root)
        for d in (store.root, store.objects_dir, store.catalog.releases_dir,
                  store.catalog.licenses_dir, store.state_dir, store.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        _write_toml(store.key_path, wrapped_key, mode=0o600)
        store.save_config({"schema": STORE_FORMAT, "kind": "store", "key_id": wrapped_key["key_id"],
                           "created": datetime.now(UTC).replace(microsecond=0)})
        return store

    @classmethod
    def open(cls, root: Path) -> Store:
        store = cls(root)
        if not store.config_path.is_file():
            raise StoreMissing(f"no arkeep store at {root}; run `arkeep init` (or set --store / ARKEEP_STORE)")
        config = store.config
        version = config.get("schema")
        if version != STORE_FORMAT:
            raise UsageError(f"{store.config_path}: store format {version!r} is unknown to this "
                             f"arkeep (it reads format {STORE_FORMAT}); upgrade arkeep")
        return store

    @property
    def key_id(self) -> str:
        """The public fingerprint of this store's archive secret, as its key file names it."""
        return str(self.wrapped_key().get("key_id", ""))

    @property
    def config(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{self.config_path} is not valid TOML: {exc}") from None

    def save_config(self, config: dict[str, Any], mode: int | None = None) -> None:
        """Write arkeep.toml; `mode` None keeps the file's own (0600 once it held a notice URL,
        which may carry a password: see ops/notify.py)."""
        if mode is None:
            try:
                mode = stat.S_IMODE(self.config_path.stat().st_mode)
            except FileNotFoundError:
                mode = 0o644
        _write_toml(self.config_path, config, mode=mode)

    # -- keys --------------------------------------------------------------------------------
    def wrapped_key(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.key_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{self.key_path} is missing; `arkeep rebuild` can bring it back "
                             "from a replica") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            raise UsageError(f"{self.key_path} is damaged; `arkeep rebuild` can bring it back "
                             "from a replica") from None

    def unlock(self, passphrase: str) -> Keyring:
        """The keyring of the archive secret, from whichever key slot the passphrase opens; that
        slot's name is kept in `unlocked_slot` (the audit log records it). Nothing is written:
        a read-only command on a read-only store unlocks all the same."""
        from archive.crypto.keyring import Keyring
        keyring, self.unlocked_slot = Keyring.unwrap_slot(self.wrapped_key(), passphrase)
        return keyring

    def save_wrapped_key(self, table: dict[str, Any]) -> None:
        _write_toml(self.key_path, table, mode=0o600)

    # -- the lock ----------------------------------------------------------------------------
    @contextmanager
    def writing(self, command: str | None = None) -> Iterator[None]:
        """Hold the store lock (waiting up to `lock_wait` seconds for a busy one, telling
        `lock_waiting` who holds it); clear temp files a crashed writer left behind."""
        from archive.system.lock import command_line_summary, store_lock
        with store_lock(self.root / "lock", command or command_line_summary(), self.lock_wait,
                        self.lock_waiting):
            self.wrote = True
            # Once per Store (per command): temp files are left only by a writer that was
            # killed, and none can have died in this process since its first pass.
            if not self._tmp_cleaned:
                self.clean_tmp()
                self._tmp_cleaned = True
            yield

    def clean_tmp(self) -> int:
        self.tmp_dir.mkdir(exist_ok=True)
        removed = 0
        for entry in self.tmp_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                import shutil
                shutil.rmtree(entry, ignore_errors=True)
            else:
                oscompat.unlink(entry, missing_ok=True)
            removed += 1
        # A manifest, the key or the configuration is written to `.tmp-*.toml` beside it and
        # renamed (_write_toml, Catalog): a writer killed in between leaves that file, never read.
        # Names are compared as strings: pathlib's glob matched every one of 100,000 release
        # files against a pattern, 0.28 s per folder.
        for folder in (self.root, self.state_dir, self.catalog.releases_dir,
                       self.catalog.licenses_dir):
            try:
                entries = os.scandir(folder)
            except FileNotFoundError:
                continue
            with entries:
                for entry in entries:
                    if entry.name.startswith(".tmp-") and entry.name.endswith(".toml") \
                            and entry.is_file(follow_symlinks=False):
                        Path(entry.path).unlink(missing_ok=True)
                        removed += 1
        return removed

    # -- objects -----------------------------------------------------------------------------
    def object_path(self, digest: str) -> Path:
        if not is_object_name(digest):
            raise ValueError(f"not an object id: {digest!r}")
        return self.objects_dir / digest[:2] / digest[2:4] / digest

    def encrypted_path(self, digest: str) -> Path:
        """Where the object lives when it is encrypted at rest (archive/storage/objcrypt.py)."""
        path = self.object_path(digest)
        return path.with_name(path.name + ENC_SUFFIX)

    def is_encrypted(self, digest: str) -> bool:
        return self.encrypted_path(digest).is_file()

    def stored_path(self, digest: str) -> Path:
        """The file that holds the object: the encrypted one if there is one, else the plain."""
        enc = self.encrypted_path(digest)
        return enc if enc.is_file() else self.object_path(digest)

    def has_object(self, digest: str) -> bool:
        # Plain strings, not Path objects: a sync plans with one call per object, and building
        # two Paths per call was ~0.2 s of a sync with nothing to do over 10,000 objects.
        if not is_object_name(digest):
            raise ValueError(f"not an object id: {digest!r}")
        path = f"{os.fspath(self.objects_dir)}/{digest[:2]}/{digest[2:4]}/{digest}"
        return os.path.isfile(path) or os.path.isfile(path + ENC_SUFFIX)

    def stored_size_matches(self, digest: str, size: int) -> bool:
        """Is the object present with the length `size` bytes of plaintext give it?"""
        from archive.storage.objcrypt import encrypted_size
        enc = self.encrypted_path(digest)
        if enc.is_file():
            return enc.stat().st_size == encrypted_size(size)
        plain = self.object_path(digest)
        return plain.is_file() and plain.stat().st_size == size

    def iter_objects(self) -> Iterator[tuple[str, Path]]:
        """Every object file, plain or encrypted, with the object's id."""
        for path in sorted(self.objects_dir.glob("??/??/*")):
            name = path.name.removesuffix(ENC_SUFFIX)
            if is_object_name(name):
                yield name, path

    def open_object(self, digest: str, keyring: Keyring | None, label: str = "") -> BinaryIO:
        """The object's plaintext as a binary stream; an encrypted object needs the keyring."""
        enc = self.encrypted_path(digest)
        if enc.is_file():
            if keyring is None:
                raise SecretNeeded(f"{label or digest[:16]} is kept encrypted at rest: the "
                                   "passphrase is needed to read it")
            from archive.storage.objcrypt import open_decrypting
            return open_decrypting(enc, keyring.documents, label or digest[:16])
        return open(self.object_path(digest), "rb")

    def ingest(self, source: Path, progress: Progress | None = None,
               keyring: Keyring | None = None) -> IngestResult:
        """Copy a file into the store, hashing the bytes on the way; one read of the source.

        With `keyring`, the object is kept encrypted at rest (a plain copy of the same bytes,
        from an older arkeep or another role, is replaced by the encrypted one)."""
        try:
            src = open(source, "rb", buffering=0)  # noqa: SIM115 - the `with src:` below
        except OSError as exc:
            raise environment_error(exc, f"cannot read {source}") from None
        with src:
            size = os.fstat(src.fileno()).st_size
            import tempfile
            fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="ingest-")
            try:
                if keyring is not None:
                    digest, copied = self._encrypt_into(src, fd, size, keyring, progress)
                else:
                    digest, copied = self._copy_hashing(src, fd, size, progress)
                if copied != size or os.fstat(src.fileno()).st_size != size:
                    raise UsageError(f"{source} changed while it was being archived; try again "
                                     "when nothing is writing to it")
                if keyring is not None:
                    return self._commit_encrypted(Path(tmp), digest, copied)
                return self._commit(Path(tmp), digest, copied)
            except OSError as exc:
                raise environment_error(exc, f"cannot archive {source}") from None
            finally:
                oscompat.unlink(tmp, missing_ok=True)

    @staticmethod
    def _copy_hashing(src: Any, fd: int, size: int, progress: Progress | None) -> tuple[str, int]:
        """One read of the source, hashed and written. Big files: copied by the kernel and hashed
        from the copy, in two threads (hashing.copy_hashing), the copy's pages pushed to disk as
        they are written so that the fsync (durability) costs little."""
        if size >= PIPELINE_FROM:
            try:
                digest, total = copy_hashing(src, fd, progress)
                os.fsync(fd)
            finally:
                os.close(fd)
            return digest, total
        hasher = new_hasher(size)
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        total = 0
        try:
            while n := src.readinto(buf):
                chunk = view[:n]
                hasher.update(chunk)
                written = 0
                while written < n:
                    written += os.write(fd, chunk[written:])
                total += n
                if progress:
                    progress(n)
            os.fsync(fd)
        finally:
            os.close(fd)
        return hasher.hexdigest(), total

    def ingest_bytes(self, data: bytes, keyring: Keyring) -> IngestResult:
        """Keep bytes held in memory (an imported attachment) as an encrypted object."""
        import io
        import tempfile
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="ingest-")
        try:
            digest, size = self._encrypt_into(io.BytesIO(data), fd, len(data), keyring, None)
            return self._commit_encrypted(Path(tmp), digest, size)
        except OSError as exc:
            raise environment_error(exc, "cannot archive an attachment") from None
        finally:
            oscompat.unlink(tmp, missing_ok=True)

    @staticmethod
    def _encrypt_into(src: Any, fd: int, size: int, keyring: Keyring,
                      progress: Progress | None) -> tuple[str, int]:
        from archive.storage.objcrypt import encrypt_stream
        try:
            result = encrypt_stream(src, fd, keyring.documents, size, progress)
            os.fsync(fd)
        finally:
            os.close(fd)
        return result

    def _intact(self, digest: str) -> bool:
        """The stored copy checks out: a plain one re-hashed, an encrypted one by its trailer."""
        if self.is_encrypted(digest):
            from archive.storage.objcrypt import trailer_matches
            return trailer_matches(self.encrypted_path(digest))
        return hash_file(self.object_path(digest)) == digest

    def _commit_encrypted(self, tmp: Path, digest: str, size: int) -> IngestResult:
        if self.stored_size_matches(digest, size) and self.is_encrypted(digest) \
                and self._intact(digest):
            return IngestResult(digest, size, new=False)
        self._place(tmp, self.encrypted_path(digest))
        oscompat.unlink(self.object_path(digest), missing_ok=True)   # the plain copy, if any, goes
        return IngestResult(digest, size, new=True)

    def encrypt_object(self, digest: str, keyring: Keyring) -> None:
        """Replace a plain object by its encrypted form (one pass, checked against its id)."""
        import tempfile
        plain = self.object_path(digest)
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="encrypt-")
        try:
            with open(plain, "rb", buffering=0) as src:
                found, size = self._encrypt_into(src, fd, os.fstat(src.fileno()).st_size, keyring, None)
            if found != digest:
                raise IntegrityError(f"object {digest[:16]}… does not match its BLAKE3; it was left "
                                     "as it is. Run `arkeep verify` and `arkeep repair`")
            self._commit_encrypted(Path(tmp), digest, size)
        finally:
            oscompat.unlink(tmp, missing_ok=True)

    def adopt_encrypted(self, tmp: Path, digest: str) -> None:
        """Move a verified encrypted object (under tmp/) into place, replacing any other copy."""
        self._place(tmp, self.encrypted_path(digest))
        oscompat.unlink(self.object_path(digest), missing_ok=True)

    @staticmethod
    def _place(tmp: Path, final: Path) -> None:
        """A complete, fsynced temp file (under tmp/) becomes the read-only object `final`."""
        final.parent.mkdir(parents=True, exist_ok=True)
        durable.publish(tmp, final, mode=stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)

    def adopt(self, tmp: Path, digest: str) -> None:
        """Move a verified temp file (under tmp/) into place as an object, replacing a bad copy."""
        self._place(tmp, self.object_path(digest))

    def _commit(self, tmp: Path, digest: str, size: int) -> IngestResult:
        final = self.object_path(digest)
        # The copy already here is kept only if it still holds these bytes: adding the original
        # file again is how a user mends a damaged object.
        if self.stored_size_matches(digest, size) and self._intact(digest):
            return IngestResult(digest, size, new=False)
        self._place(tmp, final)
        return IngestResult(digest, size, new=True)
