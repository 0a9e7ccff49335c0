"""Crash sweep: kill -9 `arkeep add`, `sync` (directory and S3), `repair` and `rebuild` at random
moments, check that nothing was lost or half-counted, then run the command again and check that
it finished the work.

Used by tests/crash/test_crash_sweep.py (a few kills per command, small files, in CI) and by
scripts/crash-sweep (many kills, an installer of hundreds of MB). Each command is first run once
uninterrupted to measure how long it takes (T) and how long it writes (W, from its first write to
its end); every try then starts it afresh from the same state and sends SIGKILL at a random moment
of the writing (three tries in four) or of the whole run (every fourth), see `sweep`.

After every kill:
- local store: every file under objects/ hashes to its own name and is read-only (a half-written
  object never takes an object's name); `verify` finds nothing that was not already wrong before
  the command started (only what the scenario broke on purpose); a release manifest, if there is
  one, lists every file of the release;
- remote: its listing shows no temp name; every unit the ledger calls present is listed, with the
  size the ledger knows; `verify --remote` finds only units that are missing, or that were
  already bad before the command started, never a unit that reads back wrong; `key.toml`, if
  there, is byte-identical to the store's.
After running the command again: exit 0, every check above with no finding at all, the work done
(the release archived, every unit on the remote, the store rebuilt), and the killed run's
leftovers gone: the store's tmp/ and manifest temp files, temp files on a directory remote, and
(once the grace for other writers has passed, see archive/replicate/sync.py) unfinished S3 uploads.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "crash sweep: correct horse battery staple"
KEY = "CRASH-SWEEP-KEY-7Q4M-99ZX"
MiB = 1024 * 1024


class SweepError(RuntimeError):
    """The sweep itself could not proceed (a command that must succeed failed)."""


def arkeep_argv(*args: object) -> list[str]:
    return [sys.executable, "-m", "archive", *map(str, args)]


def random_file(path: Path, size: int, rng: random.Random) -> Path:
    """`size` bytes that do not compress (as installers mostly do not), written in 1 MiB pieces."""
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(MiB, left)
            f.write(rng.randbytes(n))
            left -= n
    return path


def is_temp_name(name: str) -> bool:
    return name.startswith((".arkeep-", ".tmp-", "ingest-")) or name.endswith(".partial")


@dataclass
class Finding:
    """A verify finding reduced to what must not change: where, which copy, and its kind."""

    release: str | None
    filename: str | None
    copy: str
    kind: str  # "missing" or "bad"

    @classmethod
    def of(cls, f: Any) -> Finding:
        kind = "missing" if "missing" in f.what else "bad"
        return cls(f.release, f.filename, f.copy, kind)

    def __hash__(self) -> int:
        return hash((self.release, self.filename, self.copy, self.kind))

    def __str__(self) -> str:
        return f"{self.release} / {self.filename} on {self.copy}: {self.kind}"


@dataclass
class Tally:
    """What one scenario saw over its tries."""

    name: str
    tries: int = 0
    killed: int = 0
    outcomes: Counter = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    duration: float = 0.0  # T, the uninterrupted run
    work: float = 0.0  # W, from its first write to its end


class Lab:
    """Work directory, inputs, an initialised template store and its secret."""

    def __init__(self, workdir: Path, *, big: int, medium: int, seed: int,
                 s3: Any = None, fast_kdf: bool = False) -> None:
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self.rng = random.Random(seed)
        self.s3 = s3
        self.env = {k: v for k, v in os.environ.items() if k != "ARKEEP_STORE"}
        self.env["ARKEEP_PASSPHRASE"] = PASSPHRASE
        self.env["PYTHONPATH"] = str(ROOT) + os.pathsep + self.env.get("PYTHONPATH", "")
        inputs = self.dir / "inputs"
        inputs.mkdir(exist_ok=True)
        self.installer = random_file(inputs / "Setup-CrashTest-1.0.exe", big, self.rng)
        self.invoice = random_file(inputs / "invoice-2026-117.pdf", medium, self.rng)
        self.license_file = inputs / "license.lic"
        self.license_file.write_text("Licensed to: A. User\nSeats: 1\n" * 20)
        self.key_file = inputs / "key.txt"
        self.key_file.write_text(KEY + "\n")
        self.template = self.dir / "template"
        self.run("--store", self.template, "init", "--recovery-kit", self.dir / "kit.txt")
        from archive.crypto import keys
        wrapped = tomllib.loads((self.template / "key.toml").read_text())
        from archive.crypto.keyring import Keyring
        self.keyring = Keyring.unwrap(wrapped, PASSPHRASE)
        if fast_kdf:
            # CI: the same secret wrapped with scrypt N = 2^14, p = 1 instead of 2^16, p = 2 (key.toml carries its
            # parameters), so that every arkeep start unlocks in 0.1 s instead of 0.75 s and more
            # kills land on the work itself. The long sweep keeps the real cost.
            from archive.storage.store import Store
            saved = keys.SCRYPT_N, keys.SCRYPT_P
            keys.SCRYPT_N, keys.SCRYPT_P = 2**14, 1
            try:
                Store(self.template).save_wrapped_key(self.keyring.wrap(PASSPHRASE))
            finally:
                keys.SCRYPT_N, keys.SCRYPT_P = saved

    # -- running arkeep -------------------------------------------------------------------
    def run(self, *args: object, check: bool = True, timeout: float = 600,
            env: dict[str, str] | None = None, **popen: Any) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(arkeep_argv(*args), env=env or self.env, capture_output=True,
                                text=True, timeout=timeout, start_new_session=True, cwd=self.dir,
                                check=False, **popen)
        if check and result.returncode != 0:
            raise SweepError(f"arkeep {' '.join(map(str, args))} exited {result.returncode}: "
                             f"{result.stderr.strip()[-500:]}")
        return result

    def spawn(self, *args: object, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """arkeep in the background, output in pipes (read them with communicate())."""
        return subprocess.Popen(arkeep_argv(*args), env=env or self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                start_new_session=True, cwd=self.dir)

    def run_killed(self, args: list[object], delay: float,
                   started: Callable[[], bool] | None = None) -> tuple[bool, int, str, float, float]:
        """Start arkeep and SIGKILL it `delay` s after it starts, or, with `started`, `delay` s
        after `started()` first holds (polled every few ms). Returns (killed mid-run, exit
        code, output, seconds from the start to the kill or the exit, seconds from `started()`
        holding to the kill or the exit)."""
        log = self.dir / "killed.log"
        with open(log, "wb") as out:
            t0 = time.monotonic()
            proc = subprocess.Popen(arkeep_argv(*args), env=self.env, stdout=out, stderr=out,
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.dir)
            if started is not None:
                while proc.poll() is None and not started():
                    time.sleep(0.002)
            t_work = time.monotonic()
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # our own child's session, by its id
                proc.wait()
            end = time.monotonic()
        killed = proc.returncode == -signal.SIGKILL
        return killed, proc.returncode, log.read_text(errors="replace"), end - t0, end - t_work

    def timed_run(self, args: list[object], started: Callable[[], bool]) -> tuple[float, float]:
        """Run to completion; (seconds in all, seconds from `started()` first holding to the end)."""
        t0 = time.monotonic()
        proc = subprocess.Popen(arkeep_argv(*args), env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=self.dir)
        t_work = None
        while proc.poll() is None:
            if t_work is None and started():
                t_work = time.monotonic()
            time.sleep(0.002)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.wait()
        end = time.monotonic()
        if proc.returncode != 0:
            raise SweepError(f"arkeep {' '.join(map(str, args))} exited {proc.returncode}: {err[-500:]}")
        return end - t0, end - (t_work if t_work is not None else t0)

    def add_release(self, store: Path, version: str = "1.0", env: dict[str, str] | None = None) -> None:
        self.run("--store", store, "add", self.installer, "--product", "Crash Test",
                 "--version", version, "--invoice", self.invoice, "--license-file",
                 self.license_file, "--key-file", self.key_file, "--licensed-to", "A. User",
                 env=env)

    def new_store(self, path: Path) -> Path:
        if path.exists():
            force_rmtree(path)
        shutil.copytree(self.template, path)
        return path


def force_rmtree(path: Path) -> None:
    """rm -rf, also through the read-only object files and directories a test made read-only."""
    def onerror(func: Any, p: str, _exc: Any) -> None:
        os.chmod(os.path.dirname(p), 0o755)
        if os.path.isdir(p) and not os.path.islink(p):
            os.chmod(p, 0o755)
        func(p)
    if path.exists() or path.is_symlink():
        shutil.rmtree(path, onerror=onerror)


# -- checks --------------------------------------------------------------------------------------


def object_violations(store_root: Path, allowed_bad: set[str] = frozenset()) -> list[str]:
    """Every file under objects/ is an object named by the BLAKE3 of its bytes, read-only; an
    encrypted one (`<id>.enc`) still matches the digest written at its end, and is the only
    copy of its object (the plaintext's id is checked by local_findings, with the secret)."""
    from archive.storage.hashing import hash_file
    from archive.storage.objcrypt import ENC_SUFFIX, trailer_matches
    from archive.storage.store import is_object_name
    problems = []
    objects = store_root / "objects"
    if not objects.is_dir():
        return problems
    for path in sorted(objects.rglob("*")):
        if path.is_dir():
            continue
        name = path.name.removesuffix(ENC_SUFFIX)
        encrypted = name != path.name
        if not is_object_name(name) or path.parent.parent.parent != objects \
                or path.parent.name != name[2:4] or path.parent.parent.name != name[:2]:
            problems.append(f"stray file in objects/: {path.relative_to(store_root)}")
            continue
        if encrypted and path.with_name(name).exists():
            problems.append(f"object {name[:16]} is stored both plain and encrypted")
        intact = trailer_matches(path) if encrypted else hash_file(path) == name
        if not intact and name not in allowed_bad:
            problems.append(f"object {name[:16]} holds other bytes than its name says")
        if path.stat().st_mode & 0o222:
            problems.append(f"object {name[:16]} is writable")
    return problems


def local_findings(store_root: Path, keyring: Keyring) -> set[Finding]:
    from archive.ops.verify import verify_store
    from archive.storage.store import Store
    return {Finding.of(f) for f in verify_store(Store.open(store_root), keyring=keyring).problems}


def store_leftovers(store_root: Path) -> list[str]:
    """Temp files anywhere in the store (tmp/, manifests, root)."""
    found = []
    for path in store_root.rglob("*"):
        rel = path.relative_to(store_root)
        if rel.parts[0] == "objects":
            continue
        if rel.parts[0] == "tmp" and len(rel.parts) > 1 or is_temp_name(path.name):
            found.append(str(rel))
    return sorted(found)


def release_violations(store_root: Path, expected_files: int) -> list[str]:
    from archive.storage.store import Store
    problems = []
    for release in Store.open(store_root).catalog.releases():
        if len(release.artifacts) != expected_files:
            problems.append(f"{release.id} lists {len(release.artifacts)} files, "
                            f"{expected_files} were added")
    return problems


@contextmanager
def remote_of(store_root: Path, name: str) -> Iterator[Any]:
    from archive.replicate.remotes import get_remote, open_remote
    from archive.storage.store import Store
    yield open_remote(get_remote(Store.open(store_root), name))


def remote_check(store_root: Path, name: str, keyring: Keyring,
                 baseline: set[Finding]) -> tuple[list[str], set[Finding], int, int]:
    """(violations, findings, units listed, units wanted) for one remote, after a kill or a rerun.

    Reads the ledger before `verify_remote` updates it.
    """
    from archive.replicate.ledger import PRESENT, Ledger
    from archive.replicate.units import listing
    from archive.ops.verify_remote import verify_remote
    from archive.replicate.plan import plan_units
    from archive.storage.store import Store
    from backends.base import is_reserved
    store = Store.open(store_root)
    problems: list[str] = []
    with remote_of(store_root, name) as backend:
        keys = [u.key for u in backend.list("")]
        problems += [f"the listing of {name} shows a temp name: {k}" for k in keys if is_reserved(k)]
        listed = listing(backend)
        if "key.toml" in keys:
            with backend.open_read("key.toml") as f:
                if f.read() != store.key_path.read_bytes():
                    problems.append(f"key.toml on {name} differs from the store's")
        with Ledger(store.state_dir / "ledger.sqlite") as ledger:
            for copy in ledger.copies(name):
                if copy.state != PRESENT:
                    continue
                if copy.unit not in listed:
                    problems.append(f"the ledger counts {copy.kind} {copy.ref[:16]} as present on "
                                    f"{name}, the listing lacks it")
                elif copy.size is not None and copy.size != listed[copy.unit]:
                    problems.append(f"the ledger knows {copy.kind} {copy.ref[:16]} on {name} with "
                                    f"{copy.size} bytes, the listing says {listed[copy.unit]}")
            plan = plan_units(store, keyring)
            report = verify_remote(backend, keyring, plan, ledger)
    found = {Finding.of(f) for f in report.problems}
    problems += [f"verify --remote {name} found something new: {f}" for f in sorted(found - baseline, key=str)]
    wanted = {w.unit.name for w in plan.units}
    return problems, found, len(wanted & set(listed)), len(wanted)


def dir_remote_temps(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".arkeep-tmp-*"))


def s3_uploads(server: Any, bucket: str, prefix: str) -> list[str]:
    client = server.client()
    answer = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    return [u["Key"] for u in answer.get("Uploads", [])]


# -- scenarios -----------------------------------------------------------------------------------


class Scenario:
    name = "?"
    files = 3  # installer, invoice, licence file

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.base: set[Finding] = set()

    def setup(self) -> None:
        """Once, before the first try."""

    def prepare(self, attempt: int) -> None:
        """The state every try starts from."""

    def args(self) -> list[object]:
        raise NotImplementedError

    def started(self) -> bool:
        """True once the command has begun to write (cheap: polled every few ms)."""
        return True

    def classify(self) -> str:
        """What a kill left behind, in a few words, for the table."""
        raise NotImplementedError

    def check(self, final: bool) -> list[str]:
        """Violations after a kill (final False) or after the rerun (final True)."""
        raise NotImplementedError


class AddScenario(Scenario):
    name = "add"

    def setup(self) -> None:
        self.store = self.lab.dir / "add-store"

    def prepare(self, attempt: int) -> None:
        self.lab.new_store(self.store)

    def args(self) -> list[object]:
        lab = self.lab
        # No key: the passphrase (scrypt) would be the first second of every run.
        return ["--store", self.store, "add", lab.installer, "--product", "Crash Test",
                "--version", "1.0", "--invoice", lab.invoice, "--license-file", lab.license_file,
                "--licensed-to", "A. User"]

    def started(self) -> bool:
        return any((self.store / "tmp").iterdir())

    def classify(self) -> str:
        from archive.storage.store import Store
        store = Store.open(self.store)
        objects = len(list(store.iter_objects()))
        releases = len(store.catalog.release_files())
        licences = len(store.catalog.license_files())
        temp = any((self.store / "tmp").iterdir())
        if releases:
            return "release written (killed on the way out)"
        if licences:
            return "licence record written, no release yet"
        if objects:
            return f"{objects} of 3 objects in place, no manifest" + (", a temp file in tmp/" if temp else "")
        return "killed while copying into tmp/" if temp else "killed before writing anything"

    def check(self, final: bool) -> list[str]:
        problems = object_violations(self.store)
        problems += [f"verify: {f}" for f in local_findings(self.store, self.lab.keyring)]
        problems += release_violations(self.store, self.files)
        if final:
            from archive.storage.store import Store
            store = Store.open(self.store)
            if len(store.catalog.release_files()) != 1:
                problems.append("the rerun did not archive the release")
            left = store_leftovers(self.store)
            if left:
                problems.append(f"the rerun left temp files: {left}")
        return problems


class SyncScenario(Scenario):
    """A store with one release (three objects, a licence record, a manifest) synced to a remote
    that starts empty at every try."""

    remote = "?"

    def setup(self) -> None:
        self.store = self.lab.new_store(self.lab.dir / f"{self.name}-store")
        self.lab.add_release(self.store)
        self.add_remote()

    def add_remote(self) -> None:
        raise NotImplementedError

    def reset_remote(self, attempt: int) -> None:
        raise NotImplementedError

    def temps(self) -> list[str]:
        raise NotImplementedError

    def prepare(self, attempt: int) -> None:
        from archive.replicate.ledger import Ledger
        self.reset_remote(attempt)
        with Ledger(self.store / "state" / "ledger.sqlite") as ledger:
            ledger.forget_remote(self.remote)  # a remote never synced before
        self.base = {Finding(r, n, f"remote {self.remote}", "missing")
                     for r, n in self.all_labels()}

    def all_labels(self) -> list[tuple[str, str]]:
        from archive.replicate.plan import plan_units
        from archive.storage.store import Store
        plan = plan_units(Store.open(self.store), self.lab.keyring)
        return [label for w in plan.units for label in w.labels]

    def args(self) -> list[object]:
        return ["--store", self.store, "sync", self.remote]

    def started(self) -> bool:
        return self.remote_started()

    def remote_started(self) -> bool:
        raise NotImplementedError

    def classify(self) -> str:
        with remote_of(self.store, self.remote) as backend:
            from archive.replicate.units import listing
            units = len(listing(backend))
            key = backend.exists("key.toml")
        text = f"{units} of 5 units" if units else ("only key.toml" if key else "nothing")
        text += " on the remote"
        if self.temps():
            text += ", a temp/upload left"
        return text

    def check(self, final: bool) -> list[str]:
        problems = object_violations(self.store)
        problems += [f"verify: {f}" for f in local_findings(self.store, self.lab.keyring)]
        more, _, have, want = remote_check(self.store, self.remote, self.lab.keyring,
                                           set() if final else self.base)
        problems += more
        if final:
            if have != want:
                problems.append(f"after the rerun {have} of {want} units are on {self.remote}")
            problems += self.final_leftovers()
        return problems

    def final_leftovers(self) -> list[str]:
        """Temp files of the killed run: gone after the rerun (or after the grace, for S3)."""
        left = self.temps()
        return [f"the rerun left temp files on {self.remote}: {left}"] if left else []


class DirSyncScenario(SyncScenario):
    name = "sync (dir remote)"
    remote = "nas"

    def add_remote(self) -> None:
        self.remote_dir = self.lab.dir / "nas"
        self.remote_dir.mkdir()
        self.lab.run("--store", self.store, "remote", "add", self.remote, self.remote_dir)

    def reset_remote(self, attempt: int) -> None:
        force_rmtree(self.remote_dir)
        self.remote_dir.mkdir()

    def temps(self) -> list[str]:
        return dir_remote_temps(self.remote_dir)

    def remote_started(self) -> bool:
        return any(self.remote_dir.iterdir())


class S3SyncScenario(SyncScenario):
    name = "sync (S3 remote)"
    remote = "cloud"

    def add_remote(self) -> None:
        self.bucket = self.lab.s3.new_bucket_name("crash")
        self.prefix = "r0"
        self.lab.run("--store", self.store, "remote", "add", self.remote,
                     f"s3://{self.bucket}/{self.prefix}")

    def reset_remote(self, attempt: int) -> None:
        from dataclasses import replace

        from archive.replicate.remotes import get_remote, save_remote
        from archive.storage.store import Store
        store = Store.open(self.store)
        self.prefix = f"r{attempt + 1}"
        spec = get_remote(store, self.remote)
        save_remote(store, replace(spec, url=f"s3://{self.bucket}/{self.prefix}"))

    def temps(self) -> list[str]:
        return s3_uploads(self.lab.s3, self.bucket, self.prefix + "/")

    def remote_started(self) -> bool:
        if not hasattr(self, "client"):
            self.client = self.lab.s3.client()
        answer = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + "/", MaxKeys=1)
        return bool(answer.get("KeyCount"))

    def final_leftovers(self) -> list[str]:
        """An unfinished upload is invisible (never listed) and is aborted by the first sync
        after the grace that protects another machine's upload in progress: run that sync here
        with the grace at zero."""
        if not self.temps():
            return []
        import archive.replicate.sync as sync_ops
        from archive.replicate.ledger import Ledger
        from archive.replicate.plan import plan_units
        from archive.storage.store import Store
        store = Store.open(self.store)
        saved = sync_ops.STALE_TEMP_AFTER
        sync_ops.STALE_TEMP_AFTER = 0
        try:
            with remote_of(self.store, self.remote) as backend, \
                    Ledger(store.state_dir / "ledger.sqlite") as ledger:
                sync_ops.sync_remote(store, self.lab.keyring, backend,
                                     plan_units(store, self.lab.keyring), ledger)
        finally:
            sync_ops.STALE_TEMP_AFTER = saved
        left = self.temps()
        return [f"unfinished uploads left on {self.remote} past the grace: {left}"] if left else []


class RepairScenario(Scenario):
    """Local installer object corrupted, local invoice object deleted; on the remote the licence
    record's unit deleted and the licence file's unit corrupted; `verify --all` has run. Repair
    must fetch two objects and push two units."""

    name = "repair"
    remote = "nas"

    def setup(self) -> None:
        lab = self.lab
        self.pristine_store = lab.new_store(lab.dir / "repair-pristine")
        lab.add_release(self.pristine_store)
        self.pristine_remote = lab.dir / "repair-pristine-nas"
        self.pristine_remote.mkdir()
        self.store = lab.dir / "repair-store"
        self.remote_dir = lab.dir / "repair-nas"
        self.remote_dir.mkdir()
        lab.run("--store", self.pristine_store, "remote", "add", self.remote, self.remote_dir)
        lab.run("--store", self.pristine_store, "sync")
        shutil.copytree(self.remote_dir, self.pristine_remote, dirs_exist_ok=True)

    def prepare(self, attempt: int) -> None:
        from archive.replicate.plan import plan_units
        from archive.storage.store import Store
        for live, pristine in ((self.store, self.pristine_store), (self.remote_dir, self.pristine_remote)):
            force_rmtree(live)
            shutil.copytree(pristine, live)
        store = Store.open(self.store)
        release = next(store.catalog.releases())
        by_name = {a.filename: a for a in release.artifacts}
        installer = store.object_path(by_name[self.lab.installer.name].blake3)
        invoice = store.stored_path(by_name[self.lab.invoice.name].blake3)
        os.chmod(installer, 0o644)
        with open(installer, "r+b") as f:
            f.seek(installer.stat().st_size // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0x55]))
        os.chmod(installer, 0o444)
        invoice.unlink()
        self.corrupt_local = {installer.name}
        plan = {w.unit.ref: w for w in plan_units(store, self.lab.keyring).units}
        lic_unit = plan[release.licenses[0]].unit
        (self.remote_dir / lic_unit.key).unlink()
        lic_file_unit = plan[by_name[self.lab.license_file.name].blake3].unit
        bundle = self.remote_dir / lic_file_unit.key
        data = bytearray(bundle.read_bytes())
        data[len(data) // 2] ^= 0x01
        bundle.write_bytes(bytes(data))
        self.base_local = local_findings(self.store, self.lab.keyring)
        _, self.base, _, _ = remote_check(self.store, self.remote, self.lab.keyring, set())

    def args(self) -> list[object]:
        return ["--store", self.store, "repair"]

    def started(self) -> bool:
        return any((self.store / "tmp").iterdir())

    def classify(self) -> str:
        local = len(local_findings(self.store, self.lab.keyring))
        with remote_of(self.store, self.remote) as backend:
            from archive.replicate.units import listing
            units = len(listing(backend))
        return f"{2 - local} of 2 local objects mended, {units} of 5 units listed"

    def check(self, final: bool) -> list[str]:
        problems = object_violations(self.store, set() if final else self.corrupt_local)
        local = local_findings(self.store, self.lab.keyring)
        allowed = set() if final else self.base_local
        problems += [f"verify found something new: {f}" for f in sorted(local - allowed, key=str)]
        more, *_ = remote_check(self.store, self.remote, self.lab.keyring,
                                set() if final else self.base)
        problems += more
        if final:
            left = store_leftovers(self.store) + dir_remote_temps(self.remote_dir)
            if left:
                problems.append(f"the rerun left temp files: {left}")
        return problems


class RebuildScenario(Scenario):
    """The whole store back from a directory replica into an empty directory."""

    name = "rebuild"

    def setup(self) -> None:
        lab = self.lab
        source = lab.new_store(lab.dir / "rebuild-source")
        lab.add_release(source)
        self.replica = lab.dir / "rebuild-replica"
        self.replica.mkdir()
        lab.run("--store", source, "remote", "add", "nas", self.replica)
        lab.run("--store", source, "sync")
        self.store = lab.dir / "rebuild-store"

    def prepare(self, attempt: int) -> None:
        force_rmtree(self.store)

    def args(self) -> list[object]:
        # --merge: a rerun after a try that finished (or got past its last step) meets a
        # complete store of the same archive, which plain rebuild refuses to touch; merged,
        # nothing older ever replaces what is there, so the rerun's work is the same.
        return ["--store", self.store, "rebuild", "--from", self.replica, "--merge"]

    def started(self) -> bool:
        return self.store.exists()

    def classify(self) -> str:
        if not self.store.exists():
            return "killed before the store existed"
        if not (self.store / "arkeep.toml").exists():
            return "store half-created (no arkeep.toml)"
        from archive.storage.store import Store
        store = Store.open(self.store)
        objects = len(list(store.iter_objects()))
        releases = len(store.catalog.release_files())
        if releases:
            return "manifests written (killed on the way out)"
        return f"store created, {objects} of 3 objects fetched"

    def check(self, final: bool) -> list[str]:
        if not (self.store / "arkeep.toml").exists():
            return ["the rerun left no store"] if final else []
        problems = object_violations(self.store)
        problems += [f"verify: {f}" for f in local_findings(self.store, self.lab.keyring)]
        problems += release_violations(self.store, self.files)
        if (self.store / "key.toml").read_bytes() != (self.replica / "key.toml").read_bytes():
            problems.append("key.toml differs from the replica's")
        if final:
            from archive.storage.store import Store
            if len(Store.open(self.store).catalog.release_files()) != 1:
                problems.append("the rerun did not rebuild the release")
            left = store_leftovers(self.store)
            if left:
                problems.append(f"the rerun left temp files: {left}")
        return problems


SCENARIOS = {"add": AddScenario, "sync-dir": DirSyncScenario, "sync-s3": S3SyncScenario,
             "repair": RepairScenario, "rebuild": RebuildScenario}


def sweep(scenario: Scenario, rounds: int, log: Any = None) -> Tally:
    """Measure the command with clean runs, then `rounds` tries of kill -9 at a random moment.

    Two clean runs give T (start to end) and W (from the first write, `scenario.started()`, to
    the end: most of T is Python starting and scrypt unwrapping the key, before anything is
    written); the faster of the two counts, the first having warmed the page cache. Three tries
    in four wait for the first write and kill after a delay drawn uniformly from [0, 1.05 W];
    every fourth kills after a delay drawn from [0.05 T, 1.05 T] counted from the start, so
    that the start-up is hit too.

    A busy machine makes one clean run slow and the next fast, so a try that finishes before
    its kill lowers W (or T) to what that run took: the next delays are drawn over the run as
    it is now. If no kill has landed after `rounds` tries, up to `rounds` more are made, each
    counted in the table and aimed at the first half of the work, until one lands: a sweep
    that killed nothing proved nothing.
    """
    lab = scenario.lab
    tally = Tally(scenario.name)
    started = time.monotonic()
    scenario.setup()
    # The first run also warms the page cache: keep the faster of the two. Each starts from its
    # own state (the S3 scenario gives every attempt number a fresh prefix), so that the second
    # is not a sync that finds everything already there.
    for clean in (-1, 0):
        scenario.prepare(clean)
        duration, work = lab.timed_run(scenario.args(), scenario.started)
        tally.duration = min(tally.duration or duration, duration)
        tally.work = min(tally.work or work, work)
        tally.violations += [f"clean run: {v}" for v in scenario.check(final=True)]
    seen = 0
    attempt = 0
    while attempt < rounds or (tally.killed == 0 and attempt < 2 * rounds):
        attempt += 1
        scenario.prepare(attempt)
        from_start = attempt % 4 == 0 and attempt <= rounds
        if from_start:
            delay = lab.rng.uniform(0.05 * tally.duration, 1.05 * tally.duration)
            killed, code, output, at, ran = lab.run_killed(scenario.args(), delay)
        else:
            extra = attempt > rounds  # no kill has landed yet: aim at the first half of the work
            delay = lab.rng.uniform(0, (0.5 if extra else 1.05) * tally.work)
            killed, code, output, at, ran = lab.run_killed(scenario.args(), delay, scenario.started)
        tally.tries += 1
        if killed:
            tally.killed += 1
            outcome = scenario.classify()
        elif code == 0:
            outcome = "finished before the kill"
            if from_start:
                tally.duration = min(tally.duration, at)
            else:
                tally.work = min(tally.work, ran)
        else:
            outcome = f"failed by itself (exit {code})"
            tally.violations.append(f"try {attempt}: exit {code} without a kill: {output.strip()[-300:]}")
        tally.outcomes[outcome] += 1
        where = f"try {attempt} (kill at {at:.2f} s: {outcome})"
        tally.violations += [f"{where}, after the kill: {v}" for v in scenario.check(final=False)]
        rerun = lab.run(*scenario.args(), check=False)
        if rerun.returncode != 0:
            tally.violations.append(f"{where}: the rerun exited {rerun.returncode}: "
                                    f"{rerun.stderr.strip()[-300:]}")
        tally.violations += [f"{where}, after the rerun: {v}" for v in scenario.check(final=True)]
        if log is not None:
            print(f"  {scenario.name}: {where}", file=log, flush=True)
            for violation in tally.violations[seen:]:
                print(f"    VIOLATION {violation}", file=log, flush=True)
        seen = len(tally.violations)
    tally.seconds = time.monotonic() - started
    return tally


def format_table(tallies: list[Tally]) -> str:
    lines = [(f"{'scenario':<18} {'T (s)':>6} {'W (s)':>6} {'tries':>5} {'killed':>6}  "
              f"{'violations':>10}  outcomes (what each kill left)")]
    for t in tallies:
        outcomes = "; ".join(f"{what}: {n}" for what, n in t.outcomes.most_common())
        lines.append(f"{t.name:<18} {t.duration:>6.2f} {t.work:>6.2f} {t.tries:>5} {t.killed:>6}  "
                     f"{len(t.violations):>10}  {outcomes}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crash-sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="kills per command (default 20)")
    parser.add_argument("--size-mb", type=int, default=200,
                        help="size of the installer in MiB (default 200)")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS),
                        help="run only this scenario (repeatable)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    names = args.only or list(SCENARIOS)
    workdir = Path(tempfile.mkdtemp(prefix="arkeep-crash-sweep-"))
    server = None
    print(f"crash sweep: seed {seed}, {args.rounds} kills per command, installer "
          f"{args.size_mb} MiB, work dir {workdir}", flush=True)
    try:
        if "sync-s3" in names:
            from tests.support.seaweed import start_seaweed
            server = start_seaweed(workdir / "seaweed")
            for k in list(os.environ):
                if k.startswith("AWS_"):
                    del os.environ[k]
            os.environ.update(server.env())
            os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        tallies = []
        for name in names:
            lab = Lab(workdir / name, big=args.size_mb * MiB, medium=max(1, args.size_mb // 8) * MiB,
                      seed=seed, s3=server)
            tally = sweep(SCENARIOS[name](lab), args.rounds, log=sys.stdout)
            tallies.append(tally)
            print(f"{name}: {tally.tries} tries, {tally.killed} killed mid-run, "
                  f"{len(tally.violations)} violations, {tally.seconds:.0f} s", flush=True)
        print()
        print(format_table(tallies))
        bad = [v for t in tallies for v in (f"{t.name}: {x}" for x in t.violations)]
        if bad:
            print("\nVIOLATIONS:")
            print("\n".join(bad))
            return 1
        print("\nno violations: nothing lost, nothing half-written counted as present")
        return 0
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            force_rmtree(workdir)


if __name__ == "__main__":
    sys.exit(main())
