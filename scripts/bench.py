#!/usr/bin/env python3
"""Side-by-side benchmarks of arkeep against cp, b3sum, 7-Zip, restic, borg and rclone.

    scripts/bench [--size-gib 1] [--runs 3] [--quick] [--dir DIR] [--only SECTIONS]
                  [--releases 100000] [--objects 10000] [--mem-gib 4] [--json FILE]
    scripts/bench --growth [--growth-gib 1,4,16] [--growth-releases 1000,10000,100000]

Every timed command is a separate process, as a user runs it (arkeep's own start-up, passphrase
KDF and all), with no terminal and the passphrase in a file. Where a peer does the same job, each
round runs ours and the peer's back to back, alternating which goes first, after an untimed
warm-up round; dirty pages are flushed (untimed `sync`) before every run; the page cache is warm.
The ratio is the median of the per-round ratios (ours / peer), so load from other processes hits
both sides alike and a noisy machine cannot fake a result. Peak memory is the child's max RSS
(wait4). Sections (`--only`): startup, catalog, many, big, remote, s3, seal, memory (`remote` takes
`s3` with it: every read and write of a replica); `--growth` runs the growth table instead. Results go to stdout and, with --json, to a file.

fsync: arkeep makes every object, bundle and restored file durable (fsync) before it counts;
cp, 7zz and rclone do not. So the durable commands are also compared with the peer followed by
`sync FILE`, and run once more under `eatmydata` (fsync a no-op), as the peer runs.

How the big stores are made (`make_releases`, `make_objects`): manifests are written directly as
TOML files (a template of what `arkeep add` writes, checked by parsing a sample), and small
objects directly under objects/ab/cd/<BLAKE3>, instead of 100,000 `arkeep add` runs. The first
command that needs the catalog index then builds it from those files, as after any external
change; that build is timed and reported too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSPHRASE = "bench passphrase, not a secret"
GiB = 1 << 30
MiB = 1 << 20
PYCACHE = Path(tempfile.gettempdir()) / "arkeep-bench-pycache"    # set in main()


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# Running and timing commands


@dataclass
class Cmd:
    """One command as a separate process; `before` runs untimed before every run."""

    label: str
    argv: list[str]
    before: Callable[[], object] = lambda: None
    env: dict[str, str] | None = None
    cwd: Path | None = None

    def run(self) -> tuple[float, int]:
        """(wall seconds, max RSS in bytes) of one run; raises BenchError if it fails.

        The command is started by a small wrapper process that times it and reads its max RSS
        with wait4: a child forked straight from this (big) process would report this process's
        resident size as its own high-water mark.
        """
        self.before()
        os.sync()
        with tempfile.TemporaryFile() as err:
            proc = subprocess.run([sys.executable, "-S", "-c", WRAPPER, json.dumps(self.argv)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                  env=self.env, cwd=self.cwd, start_new_session=True)
            try:
                code, elapsed, maxrss = json.loads(proc.stdout)
            except ValueError:
                code, elapsed, maxrss = proc.returncode or 1, 0.0, 0
            if code != 0:
                err.seek(0)
                tail = err.read()[-2000:].decode(errors="replace")
                raise BenchError(f"{self.label} exited {code}: {' '.join(self.argv)}\n{tail}")
        return elapsed, maxrss * 1024


WRAPPER = """
import json, os, subprocess, sys, time
argv = json.loads(sys.argv[1])
start = time.perf_counter()
proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
elapsed = time.perf_counter() - start
print(json.dumps([os.waitstatus_to_exitcode(status), elapsed, usage.ru_maxrss]))
"""


def timed_group(cmds: list[Cmd], runs: int) -> dict[str, object]:
    """Run every command once per round (order rotating), one warm-up round, `runs` timed rounds.

    Returns medians of seconds and RSS per command, and the median per-round ratio of
    cmds[0] (ours) to each other command.
    """
    times: dict[str, list[float]] = {c.label: [] for c in cmds}
    rss: dict[str, list[int]] = {c.label: [] for c in cmds}
    ratios: dict[str, list[float]] = {c.label: [] for c in cmds[1:]}
    for i in range(runs + 1):
        k = i % len(cmds)
        order = cmds[k:] + cmds[:k]
        got = {c.label: c.run() for c in order}
        if i == 0:
            continue
        for c in cmds:
            times[c.label].append(got[c.label][0])
            rss[c.label].append(got[c.label][1])
        for c in cmds[1:]:
            ratios[c.label].append(got[cmds[0].label][0] / got[c.label][0])
    return {"median_s": {k: statistics.median(v) for k, v in times.items()},
            "all_s": times,
            "max_rss": {k: max(v) for k, v in rss.items()},
            "ratio": {k: statistics.median(v) for k, v in ratios.items()}}


def timed(cmd: Cmd, runs: int, warmup: bool = True) -> tuple[float, int, list[float]]:
    """Median seconds, max RSS and all times of `runs` runs (after one warm-up run)."""
    out = [cmd.run() for _ in range(runs + (1 if warmup else 0))]
    out = out[1:] if warmup else out
    return statistics.median(t for t, _ in out), max(r for _, r in out), [t for t, _ in out]


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Row:
    section: str
    operation: str
    ours_s: float | None = None
    peer: str = ""
    peer_s: float | None = None
    ratio: float | None = None          # ours / peer (median of per-round ratios)
    target: str = ""
    met: bool | None = None
    note: str = ""
    rss_mb: float | None = None
    runs: dict[str, list[float]] | None = None     # every timed round, ours and the peer's (--json)


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    growth: list[dict[str, object]] = field(default_factory=list)
    seal_engine: str = ""

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(f"  {fmt_row(row)}", flush=True)
        return row


def ratio_row(section: str, operation: str, group: dict, ours: str, peer: str, limit: float | None,
              note: str = "") -> Row:
    med = group["median_s"]
    ratio = group["ratio"][peer]
    target = f"ratio <= {limit:.2f}" if limit is not None else "(reported)"
    return Row(section, operation, med[ours], peer, med[peer], ratio, target,
               None if limit is None else ratio <= limit, note,
               runs={ours: group["all_s"][ours], peer: group["all_s"][peer]})


def pair_row(section: str, operation: str, group: dict, ours: str, peer: str, limit: float | None,
             note: str = "") -> Row:
    """Like ratio_row, for a command of the group other than its first: the median of its own
    per-round ratios to the peer."""
    ratio = statistics.median(a / b for a, b in zip(group["all_s"][ours], group["all_s"][peer]))
    target = f"ratio <= {limit:.2f}" if limit is not None else "(reported)"
    return Row(section, operation, group["median_s"][ours], peer, group["median_s"][peer], ratio,
               target, None if limit is None else ratio <= limit, note,
               runs={ours: group["all_s"][ours], peer: group["all_s"][peer]})


def fmt_row(r: Row) -> str:
    ours = f"{r.ours_s:8.3f}s" if r.ours_s is not None else " " * 9
    peer = f"{r.peer_s:8.3f}s" if r.peer_s is not None else " " * 9
    ratio = f"{r.ratio:6.2f}" if r.ratio is not None else " " * 6
    met = {True: "MET", False: "MISSED", None: ""}[r.met]
    rss = f" rss {r.rss_mb:.0f} MB" if r.rss_mb is not None else ""
    return (f"{r.operation:<46} {ours} {peer} {ratio}  {r.peer[:34]:<34} {r.target:<16} {met:<6}"
            f"{rss}{'  ' + r.note if r.note else ''}")


def print_table(results: Results) -> None:
    print("\n" + "=" * 100)
    if results.seal_engine:
        print("sealing engine alone (scripts/bench_seal.py):\n" + results.seal_engine.rstrip())
        print("-" * 100)
    m = results.machine
    print(f"machine: {m.get('cpu')} x{m.get('nproc')}, {m.get('ram_gib')} GiB RAM, {m.get('disk')}, "
          f"kernel {m.get('kernel')}, Python {m.get('python')}")
    print(f"load average: start {m.get('load_start')}, end {m.get('load_end')}")
    print(f"{'operation':<46} {'arkeep':>9} {'peer':>9} {'ratio':>6}  {'peer command':<34} "
          f"{'target':<16} result")
    section = None
    for r in results.rows:
        if r.section != section:
            section = r.section
            print(f"-- {section}")
        print(fmt_row(r))


# ---------------------------------------------------------------------------------------------
# Data and stores


def make_random_file(path: Path, size: int, seed: int = 20261125) -> None:
    """`size` pseudo-random bytes, the same for the same seed (BLAKE3's extendable output)."""
    import blake3

    stream = blake3.blake3(seed.to_bytes(8, "little"))
    with open(path, "wb") as f:
        for pos in range(0, size, 64 * MiB):
            f.write(stream.digest(length=min(64 * MiB, size - pos), seek=pos))


class Arkeep:
    """arkeep on one store, run as the user runs it: no terminal, passphrase from a file."""

    def __init__(self, store: Path, passphrase_file: Path | None,
                 env: dict[str, str] | None = None) -> None:
        self.store = store
        self.pp = passphrase_file           # None: no passphrase given (an agent, or none at all)
        exe = Path(sys.executable).parent / "arkeep"
        self.base = [str(exe)] if exe.exists() else [sys.executable, "-m", "archive"]
        base_env = {k: v for k, v in os.environ.items()
                     if not k.startswith(("ARKEEP_", "AWS_")) and k != "PYTHONDONTWRITEBYTECODE"}
        # As installed arkeep runs: pip compiles the modules to bytecode at install time. Here
        # the cache goes to the bench's work directory, not into the source tree.
        base_env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
        # The runtime folder where `arkeep unlock` puts its agent: the bench's own, so that no
        # agent of the user's is found, and one started here is seen only by `with_agent()`.
        base_env["XDG_RUNTIME_DIR"] = str(private_dir(PYCACHE.parent / "run-none"))
        self.env = {**base_env, **(env or {})}

    def argv(self, *args: object) -> list[str]:
        pp = ["--passphrase-file", str(self.pp)] if self.pp is not None else []
        return [*self.base, "--store", str(self.store), *pp, *map(str, args)]

    def without_passphrase(self) -> Arkeep:
        """The same store, no passphrase given and no agent to ask (a passphrase-less audit)."""
        return Arkeep(self.store, None, self.env)

    def with_agent(self, seconds: int = 3600) -> Arkeep:
        """Start `arkeep unlock --for SECONDS` in a runtime folder of its own; the Arkeep returned
        gives no passphrase and finds that agent, so its commands skip the scrypt unlock (as a
        user's do after `arkeep unlock`). End it with `.lock()`."""
        if subprocess.run([*self.base, "unlock", "--help"], env=self.env,
                          capture_output=True).returncode != 0:
            # An arkeep from before `arkeep unlock`: this script run with an older checkout's
            # Python, to compare versions (docs/BENCHMARKS.md, "Before and after the regroup").
            print("  note: this arkeep has no `arkeep unlock`: the rows after the unlock are "
                  "runs given the passphrase", flush=True)
            return self
        run = private_dir(self.store.parent / f"run-agent-{self.store.name}")
        agent = Arkeep(self.store, None, {**self.env, "XDG_RUNTIME_DIR": str(run)})
        Arkeep(self.store, self.pp, agent.env)("unlock", "--for", f"{seconds}s")
        return agent

    def lock(self) -> None:
        self("lock", check=False)

    def fresh_remote(self, name: str, url: str | Path, folder: Path | None = None,
                     clear: Callable[[], None] | None = None) -> Callable[[], None]:
        """A `before` hook giving every run an empty remote that arkeep has never seen: forget
        the remote (its ledger rows go with it), empty its folder (or run `clear`), add it again.
        Emptying a remote arkeep still knows would be refused by sync's guard, rightly: to it a
        replica that held units and now holds nothing is a drive that is not mounted."""
        def fresh() -> None:
            self("remote", "remove", name, check=False)
            if folder is not None:
                empty_dir(folder)()
            if clear is not None:
                clear()
            self("remote", "add", name, url)
        return fresh

    def cmd(self, label: str, *args: object, before: Callable[[], object] = lambda: None,
            wrap: list[str] | None = None) -> Cmd:
        return Cmd(label, [*(wrap or []), *self.argv(*args)], before, self.env)

    def __call__(self, *args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(*args), env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, start_new_session=True)
        if check and proc.returncode != 0:
            raise BenchError(f"arkeep {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stderr[-2000:]}")
        return proc

    def init(self) -> str:
        kit = self.store.parent / f"{self.store.name}-kit.txt"
        self("init", "--recovery-kit", kit)
        code = next(line.strip() for line in kit.read_text().splitlines()
                    if re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){7}", line.strip()))
        return code


RELEASE_TEMPLATE = '''schema = 1
kind = "release"
id = "{rid}"
product = "{product}"
version = "{version}"
created = 2026-11-25T08:00:00Z
vendor = "{vendor}"
platform = "windows-x64"

[[artifact]]
role = "installer"
filename = "{filename}"
size = {size}
blake3 = "{digest}"
media_type = "application/vnd.microsoft.portable-executable"
'''
VENDORS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Soylent", "Tyrell",
           "Wonka", "Cyberdyne", "Aperture", "Stark", "Wayne", "Oscorp", "Massive Dynamic"]


def release_fields(i: int, digest: str, size: int) -> dict[str, object]:
    product = f"Tool {i // 10:05d}"
    version = f"{1 + i % 10}.{i % 7}"
    return {"rid": f"tool-{i // 10:05d}@{version}+windows-x64", "product": product,
            "version": version, "vendor": VENDORS[i % len(VENDORS)],
            "filename": f"Tool{i // 10:05d}-{version}-setup.exe", "size": size, "digest": digest}


def make_releases(store: Path, count: int, objects: list[tuple[str, int]]) -> float:
    """Write `count` release manifests straight into the store (object i % len(objects))."""
    from manifests.catalog import Catalog

    start = time.perf_counter()
    rel = store / "manifests" / "releases"
    rel.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        digest, size = objects[i % len(objects)]
        fields = release_fields(i, digest, size)
        (rel / f"{fields['rid']}.toml").write_text(RELEASE_TEMPLATE.format(**fields), encoding="utf-8")
    catalog = Catalog(store / "manifests")
    for i in {0, count // 2, count - 1}:          # the template must be what arkeep reads
        rid = str(release_fields(i, *objects[i % len(objects)])["rid"])
        assert catalog.load_release(rid).id == rid
    return time.perf_counter() - start


def make_objects(store: Path, count: int, seed: int = 7) -> list[tuple[str, int]]:
    """`count` small random objects (1-4 KiB) written straight into objects/, read-only."""
    import random

    import blake3

    rng = random.Random(seed)
    made = []
    for _ in range(count):
        data = rng.randbytes(rng.randrange(1024, 4096))
        digest = blake3.blake3(data).hexdigest()
        path = store / "objects" / digest[:2] / digest[2:4] / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o444)
        made.append((digest, len(data)))
    return made


def rewrap_cheaply(store: Path) -> None:
    """Re-wrap the store's secret under scrypt n=2^14, p=1 (16 MiB): a bench-only key, so that
    peak memory can be shown without the 64 MiB that the real KDF takes by design."""
    from archive.crypto import keys
    from archive.storage.store import Store

    s = Store.open(store)
    keyring = s.unlock(PASSPHRASE)
    saved = keys.SCRYPT_N, keys.SCRYPT_P
    keys.SCRYPT_N, keys.SCRYPT_P = 2 ** 14, 1
    try:
        s.save_wrapped_key(keyring.wrap(PASSPHRASE))
    finally:
        keys.SCRYPT_N, keys.SCRYPT_P = saved


def rm(*paths: Path) -> Callable[[], None]:
    def remove() -> None:
        for p in paths:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()
    return remove


def private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def empty_dir(path: Path) -> Callable[[], None]:
    def clear() -> None:
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    return clear


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    text = (out.stdout or out.stderr).strip().splitlines()
    return next((line.strip() for line in text if line.strip()), "?")


def machine_info(workdir: Path) -> dict[str, object]:
    mem = Path("/proc/meminfo").read_text()
    ram = int(re.search(r"MemTotal:\s+(\d+)", mem).group(1)) / (1 << 20)  # type: ignore[union-attr]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    df = subprocess.run(["df", "-hT", str(workdir)], capture_output=True, text=True).stdout.splitlines()
    disk = " ".join(df[-1].split()[:3]) if len(df) > 1 else "?"
    free = shutil.disk_usage(workdir).free / GiB
    return {
        "cpu": cpu, "nproc": os.cpu_count(), "ram_gib": round(ram, 1),
        "disk": f"{disk} ({free:.0f} GiB free)", "kernel": platform.release(),
        "python": platform.python_version(), "load_start": os.getloadavg()[0],
        "tools": {
            "7zz": tool_version(["7zz", "i"]), "b3sum": tool_version(["b3sum", "--version"]),
            "restic": tool_version(["restic", "version"]), "borg": tool_version(["borg", "--version"]),
            "rclone": tool_version(["rclone", "version"]),
            "eatmydata": "present" if shutil.which("eatmydata") else "missing",
        },
    }


# ---------------------------------------------------------------------------------------------
# Sections


@dataclass
class BigStore:
    d: Path
    src: Path
    store: Path
    ark: Arkeep
    code: str
    zip_path: Path
    size: int
    label: str
    agent: Arkeep       # the store after `arkeep unlock`: no passphrase given, an agent holds it


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, results: Results) -> None:
        self.args = args
        self.work = work
        self.results = results
        self.pp = work / "passphrase"
        self.pp.write_text(PASSPHRASE + "\n")
        self.pp.chmod(0o600)
        self.runs = args.runs
        self.eat = ["eatmydata"] if shutil.which("eatmydata") else None
        self._big: BigStore | None = None

    def note(self, text: str) -> None:
        print(f"== {text} (load {os.getloadavg()[0]:.2f})", flush=True)

    def kdf(self, store: Path) -> tuple[float, int]:
        """Time and RSS of unlocking the store's key alone (scrypt): part of every command that
        needs the passphrase."""
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from archive.storage.store import Store; "
                "Store.open(sys.argv[2]).unlock(open(sys.argv[3]).read().strip())")
        cmd = Cmd("unlock", [sys.executable, "-c", code, str(ROOT), str(store), str(self.pp)])
        t, r, _ = timed(cmd, max(3, self.runs))
        return t, r

    # -- one big incompressible file ---------------------------------------------------------
    def big_setup(self) -> BigStore:
        """The big file, a store holding it, and 7-Zip's zip of it with the recovery code as its
        password (what `7zz t` and `7zz x` read): made once, shared by the big and remote sections."""
        if self._big is not None:
            return self._big
        size = int(self.args.size_gib * GiB)
        d = self.work / "big"
        d.mkdir()
        src = d / "installer.bin"
        make_random_file(src, size)
        store = d / "store"
        ark = Arkeep(store, self.pp)
        code = ark.init()
        ark("add", src, "--product", "Bench", "--version", "1")
        zip_path = d / "peer.zip"
        subprocess.run(["7zz", "a", "-tzip", "-mem=AES256", "-mx0", f"-p{code}", str(zip_path), str(src)],
                       check=True, capture_output=True)
        kdf_s, kdf_rss = self.kdf(store)
        self.results.add(Row("big file", "passphrase unlock alone (scrypt n=2^16, r=8, p=2)", kdf_s,
                             note="included in every timed command that is given the passphrase",
                             rss_mb=kdf_rss / MiB))
        self._big = BigStore(d, src, store, ark, code, zip_path, size, f"{self.args.size_gib:g} GiB",
                             ark.with_agent())
        return self._big

    def close(self) -> None:
        if self._big is not None:
            self._big.agent.lock()

    def big(self) -> None:
        """add vs cp, local verify vs b3sum, restore from the store vs 7zz x."""
        b = self.big_setup()
        ark, src, store, label = b.ark, b.src, b.store, b.label
        self.note(f"big: {label} random file: add, verify, restore from the store")
        res, sec = self.results, "big file"

        # add vs cp, to the same filesystem
        def clear_store() -> None:
            for sub in ("objects", "manifests/releases"):
                shutil.rmtree(store / sub, ignore_errors=True)
                (store / sub).mkdir(parents=True)
        cp_out = store / "tmp" / "cp-copy"
        add = ark.cmd("arkeep add", "add", src, "--product", "Bench", "--version", "1",
                      before=clear_store)
        cp = Cmd("cp", ["cp", str(src), str(cp_out)], rm(cp_out))
        cp_sync = Cmd("cp + sync FILE", ["sh", "-c", 'cp "$0" "$1" && sync "$1"', str(src), str(cp_out)],
                      rm(cp_out))
        cmds = [add, cp, cp_sync]
        if self.eat:
            cmds.append(ark.cmd("arkeep add (eatmydata)", "add", src, "--product", "Bench",
                                "--version", "1", before=clear_store, wrap=self.eat))
        g = timed_group(cmds, self.runs)
        res.add(ratio_row(sec, f"add {label} (fsync)", g, "arkeep add", "cp", 1.25,
                          "cp does not fsync; see the next two rows"))
        res.add(ratio_row(sec, f"add {label} (fsync)", g, "arkeep add", "cp + sync FILE", 1.25,
                          "both durable"))
        if self.eat:
            res.add(pair_row(sec, f"add {label} under eatmydata (no fsync)", g,
                             "arkeep add (eatmydata)", "cp", 1.25, "neither side fsyncs"))
        peaks = dict(g["max_rss"])
        rm(cp_out)()
        clear_store()
        ark("add", src, "--product", "Bench", "--version", "1")
        objects = [p for p in (store / "objects").rglob("*") if p.is_file()]

        # verify (local) vs b3sum over the same objects. It needs no passphrase; given one (or an
        # agent's keyring) it also checks the audit log's keyed MACs and the licence secrets.
        g = timed_group([ark.without_passphrase().cmd("arkeep verify", "verify"),
                         Cmd("b3sum OBJECT", ["b3sum", *map(str, objects)]),
                         ark.cmd("arkeep verify (passphrase)", "verify"),
                         b.agent.cmd("arkeep verify (unlocked)", "verify")], self.runs)
        res.add(ratio_row(sec, f"verify (local) {label}", g, "arkeep verify", "b3sum OBJECT", 1.1,
                          "no passphrase given: no unlock"))
        res.add(pair_row(sec, "  same, given the passphrase", g, "arkeep verify (passphrase)", "b3sum OBJECT",
                         1.1, "includes the unlock; also checks the audit log's MACs"))
        res.add(pair_row(sec, "  same, after arkeep unlock", g, "arkeep verify (unlocked)", "b3sum OBJECT",
                         1.1, "an agent holds the secret: MACs checked, no scrypt"))
        peaks.update(g["max_rss"])

        # restore from the store vs 7zz x
        out, out_peer = b.d / "restored", b.d / "7zz-out"
        cmds = [ark.cmd("arkeep restore", "restore", "bench@1", "--to", out, before=rm(out)),
                Cmd("7zz x", ["7zz", "x", "-y", f"-p{b.code}", f"-o{out_peer}", str(b.zip_path)],
                    rm(out_peer))]
        if self.eat:
            cmds.append(ark.cmd("arkeep restore (eatmydata)", "restore", "bench@1", "--to", out,
                                before=rm(out), wrap=self.eat))
        g = timed_group(cmds, self.runs)
        res.add(ratio_row(sec, f"restore {label} from the store (fsync)", g, "arkeep restore", "7zz x",
                          1.0))
        if self.eat:
            res.add(pair_row(sec, f"restore {label} under eatmydata (no fsync)", g,
                             "arkeep restore (eatmydata)", "7zz x", 1.0, "neither side fsyncs"))
        peaks.update(g["max_rss"])
        rm(out, out_peer)()
        self.memory_rows(f"{sec}: peak memory", peaks)

    def memory_rows(self, sec: str, peaks: dict[str, int]) -> None:
        """One row per arkeep command timed: its highest max RSS over the rounds, against 150 MB."""
        for label, rss in peaks.items():
            if label.startswith("arkeep"):
                self.results.add(Row(sec, f"peak RSS: {label}", rss_mb=rss / MiB, target="< 150 MB",
                                     met=rss < 150e6))

    # -- reading and writing replicas (issue 19) -----------------------------------------------
    def remote(self) -> None:
        """sync to a folder vs 7zz a, verify --remote vs 7zz t, restore --from vs 7zz x, the
        passphrase-less audit vs b3sum of the same bundles: each given the passphrase (so timing
        the scrypt unlock too) and again after `arkeep unlock` (an agent holds the secret, as in a
        user's session), in the same alternating rounds as the peer."""
        b = self.big_setup()
        ark, label = b.ark, b.label
        self.note(f"remote: {label}: sync to a folder, verify --remote, restore --from, audit")
        res, sec = self.results, "remote (folder)"
        remote = b.d / "remote"
        remote.mkdir()
        ark("remote", "add", "nas", remote)
        fresh = ark.fresh_remote("nas", remote, remote)
        agent = b.agent
        peaks: dict[str, int] = {}
        # sync to a folder vs 7zz a (and restic, borg)
        zip_a = b.d / "7zz-a.zip"
        sync = ark.cmd("arkeep sync", "sync", "nas", before=fresh)
        seven_a = Cmd(SEVEN_A, ["7zz", "a", "-tzip", "-mem=AES256", "-mx0", f"-p{b.code}",
                                str(zip_a), str(b.src)], rm(zip_a))
        cmds = [sync, seven_a, agent.cmd("arkeep sync (unlocked)", "sync", "nas", before=fresh)]
        if self.eat:
            cmds.append(ark.cmd("arkeep sync (eatmydata)", "sync", "nas", before=fresh,
                                wrap=self.eat))
        g = timed_group(cmds, self.runs)
        rm(zip_a)()
        res.add(ratio_row(sec, f"sync {label} to a folder (fsync)", g, "arkeep sync", SEVEN_A, 1.0,
                          "given the passphrase: includes the unlock"))
        res.add(pair_row(sec, "  same, after arkeep unlock", g, "arkeep sync (unlocked)", SEVEN_A,
                         1.0, "an agent holds the secret: no scrypt"))
        if self.eat:
            res.add(pair_row(sec, f"sync {label} under eatmydata (no fsync)", g,
                             "arkeep sync (eatmydata)", SEVEN_A, 1.0, "neither side fsyncs"))
        peaks.update(g["max_rss"])
        peers = self.restic_borg(b.src, b.d)
        if peers:
            g = timed_group([sync, *peers], self.runs)
            for p in peers:
                res.add(ratio_row(sec, f"sync {label} to a folder", g, "arkeep sync", p.label,
                                  None))
            rm(b.d / "restic-repo", b.d / "restic-cache", b.d / "borg-repo", b.d / "borg-base")()
        ark("sync", "nas")       # whichever ran last, the remote is whole
        bundles = sorted(str(p) for p in remote.rglob("*") if p.is_file() and p.suffix == ".zip")

        # verify --remote vs 7zz t
        g = timed_group([ark.cmd("arkeep verify --remote", "verify", "--remote", "nas"),
                         Cmd("7zz t -pCODE", ["7zz", "t", f"-p{b.code}", str(b.zip_path)]),
                         agent.cmd("arkeep verify --remote (unlocked)", "verify", "--remote",
                                   "nas")], self.runs)
        res.add(ratio_row(sec, f"verify --remote {label}", g, "arkeep verify --remote", "7zz t -pCODE",
                          1.0, "given the passphrase: includes the unlock"))
        res.add(pair_row(sec, "  same, after arkeep unlock", g, "arkeep verify --remote (unlocked)",
                         "7zz t -pCODE", 1.0, "an agent holds the secret: no scrypt"))
        peaks.update(g["max_rss"])

        # restore --from vs 7zz x
        out, out_peer = b.d / "restored", b.d / "7zz-out"
        cmds = [ark.cmd("arkeep restore --from", "restore", "bench@1", "--to", out, "--from", "nas",
                        before=rm(out)),
                Cmd("7zz x", ["7zz", "x", "-y", f"-p{b.code}", f"-o{out_peer}", str(b.zip_path)],
                    rm(out_peer)),
                agent.cmd("arkeep restore --from (unlocked)", "restore", "bench@1", "--to", out,
                          "--from", "nas", before=rm(out))]
        if self.eat:
            cmds.append(ark.cmd("arkeep restore --from (eatmydata)", "restore", "bench@1", "--to",
                                out, "--from", "nas", before=rm(out), wrap=self.eat))
        g = timed_group(cmds, self.runs)
        rm(out, out_peer)()
        res.add(ratio_row(sec, f"restore {label} --from a folder (fsync)", g,
                          "arkeep restore --from", "7zz x", 1.0,
                          "unseals the bundle; given the passphrase: includes the unlock"))
        res.add(pair_row(sec, "  same, after arkeep unlock", g, "arkeep restore --from (unlocked)",
                         "7zz x", 1.0, "an agent holds the secret: no scrypt"))
        if self.eat:
            res.add(pair_row(sec, f"restore --from {label} under eatmydata (no fsync)", g,
                             "arkeep restore --from (eatmydata)", "7zz x", 1.0,
                             "neither side fsyncs"))
        peaks.update(g["max_rss"])

        # the passphrase-less audit (BLAKE3 of the sealed bytes) vs b3sum of the same bundles
        bare = ark.without_passphrase()
        g = timed_group([bare.cmd("arkeep audit (no passphrase)", "audit", "nas", "--budget", "1"),
                         Cmd("b3sum BUNDLES", ["b3sum", *bundles])], self.runs)
        res.add(ratio_row(sec, f"audit {label} replica, no passphrase, whole", g,
                          "arkeep audit (no passphrase)", "b3sum BUNDLES", 1.1,
                          f"b3sum of the {len(bundles)} bundle(s) in the folder"))
        peaks.update(g["max_rss"])
        self.memory_rows(f"{sec}: peak memory", peaks)

    def restic_borg(self, src: Path, d: Path) -> list[Cmd]:
        peers = []
        if shutil.which("restic"):
            restic_repo = d / "restic-repo"
            restic_env = {**os.environ, "RESTIC_PASSWORD": PASSPHRASE,
                          "RESTIC_CACHE_DIR": str(d / "restic-cache")}

            def fresh_restic() -> None:
                rm(restic_repo)()
                subprocess.run(["restic", "init", "--repo", str(restic_repo)], env=restic_env,
                               check=True, capture_output=True)
            peers.append(Cmd("restic backup", ["restic", "backup", "--quiet", "--repo",
                                               str(restic_repo), str(src)], fresh_restic, restic_env))
        if shutil.which("borg"):
            borg_repo = d / "borg-repo"
            borg_env = {**os.environ, "BORG_PASSPHRASE": PASSPHRASE,
                        "BORG_BASE_DIR": str(d / "borg-base"), "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"}

            def fresh_borg() -> None:
                rm(borg_repo, d / "borg-base")()
                subprocess.run(["borg", "init", "-e", "repokey", str(borg_repo)], env=borg_env,
                               check=True, capture_output=True)
            peers.append(Cmd("borg create -C none", ["borg", "create", "-C", "none",
                                                     f"{borg_repo}::a", str(src)], fresh_borg, borg_env))
        return peers

    # -- S3 (SeaweedFS) ----------------------------------------------------------------------
    def s3(self) -> None:
        from tests.support.seaweed import start_seaweed

        size = int(self.args.size_gib * GiB)
        label = f"{self.args.size_gib:g} GiB"
        self.note(f"s3: upload of {label} to SeaweedFS, arkeep sync vs rclone copy")
        if not shutil.which("rclone"):
            raise BenchError("rclone is not installed")
        d = self.work / "s3"
        d.mkdir()
        src = d / "installer.bin"
        make_random_file(src, size, seed=11)
        server = start_seaweed(d / "seaweed")
        try:
            client = server.client(read_timeout=120)
            bucket = server.new_bucket_name("bench")
            client.create_bucket(Bucket=bucket)
            store = d / "store"
            ark = Arkeep(store, self.pp, env=server.env())
            ark.init()
            ark("add", src, "--product", "Bench", "--version", "1")
            url = f"s3://{bucket}/arkeep"
            ark("remote", "add", "cloud", url)

            def clear(prefix: str) -> Callable[[], None]:
                def run() -> None:
                    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                                  Prefix=prefix):
                        for obj in page.get("Contents", []):
                            client.delete_object(Bucket=bucket, Key=obj["Key"])
                return run
            clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env = {**clean, "RCLONE_CONFIG_BENCH_TYPE": "s3",
                   "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
                   "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": server.access_key,
                   "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": server.secret_key,
                   "RCLONE_CONFIG_BENCH_ENDPOINT": server.endpoint,
                   "RCLONE_CONFIG_BENCH_REGION": "us-east-1", "RCLONE_CONFIG": "/dev/null"}
            rclone = Cmd("rclone copy", ["rclone", "copy", str(src), f"bench:{bucket}/rclone/"],
                         clear("rclone/"), env)
            fresh = ark.fresh_remote("cloud", url, clear=clear("arkeep/"))
            agent = ark.with_agent()
            try:
                g = timed_group([ark.cmd("arkeep sync", "sync", "cloud", before=fresh), rclone,
                                 agent.cmd("arkeep sync (unlocked)", "sync", "cloud", before=fresh)],
                                self.runs)
            finally:
                agent.lock()
            sec = "S3 (SeaweedFS)"
            mbps = lambda s: size / MiB / s  # noqa: E731
            row = ratio_row(sec, f"upload {label}: sync to S3", g, "arkeep sync", "rclone copy", 1.0)
            row.note = (f"{mbps(row.ours_s):.0f} vs {mbps(row.peer_s):.0f} MiB/s; arkeep seals; "  # type: ignore[arg-type]
                        "given the passphrase: includes the unlock")
            self.results.add(row)
            row = pair_row(sec, "  same, after arkeep unlock", g, "arkeep sync (unlocked)", "rclone copy",
                           1.0)
            row.note = f"{mbps(row.ours_s):.0f} MiB/s; an agent holds the secret: no scrypt"  # type: ignore[arg-type]
            self.results.add(row)
            self.memory_rows(f"{sec}: peak memory", dict(g["max_rss"]))
        finally:
            server.stop()
            shutil.rmtree(d, ignore_errors=True)

    # -- 10,000 objects: the no-op sync ------------------------------------------------------
    def many(self) -> None:
        n = self.args.objects
        self.note(f"many: {n} objects and {n} releases, sync with nothing to do")
        d = self.work / "many"
        d.mkdir()
        store = d / "store"
        ark = Arkeep(store, self.pp)
        ark.init()
        start = time.perf_counter()
        objects = make_objects(store, n)
        make_releases(store, n, objects)
        made = time.perf_counter() - start
        remote = d / "remote"
        remote.mkdir()
        ark("remote", "add", "nas", remote)
        sec = f"{n} objects"
        first = ark.cmd("first sync", "sync", "nas")
        t, rss = first.run()
        self.results.add(Row(sec, f"first sync: {2 * n} units to a dir remote", t, rss_mb=rss / MiB,
                             note=f"store written directly in {made:.1f}s; includes the index build"))
        agent = ark.with_agent()
        try:
            g = timed_group([ark.cmd("no-op sync", "sync", "nas"),
                             agent.cmd("no-op sync (unlocked)", "sync", "nas")], max(self.runs, 3))
        finally:
            agent.lock()
        for label, what in (("no-op sync", "given the passphrase: includes the unlock"),
                            ("no-op sync (unlocked)", "after arkeep unlock: no scrypt")):
            t, runs = g["median_s"][label], g["all_s"][label]
            self.results.add(Row(sec, f"sync with nothing to do ({n} objects, {2 * n} units)", t,
                                 target="< 1.5 s", met=t < 1.5, rss_mb=g["max_rss"][label] / MiB,
                                 note=f"{what}; runs {', '.join(f'{x:.2f}' for x in runs)}"))
        shutil.rmtree(d)

    # -- 100,000 releases: list, search, show, add one ---------------------------------------
    def catalog(self) -> None:
        n = self.args.releases
        self.note(f"catalog: {n} releases: list, search, show, add one more")
        d = self.work / "catalog"
        d.mkdir()
        rows = self.catalog_rows(d, n, f"{n} releases")
        for row in rows:
            self.results.add(row)
        shutil.rmtree(d)

    def catalog_rows(self, d: Path, n: int, sec: str, with_sync: bool = False) -> list[Row]:
        store = d / "store"
        ark = Arkeep(store, self.pp)
        ark.init()
        objects = make_objects(store, 100)
        made = make_releases(store, n, objects)
        rows = []
        t, rss = ark.cmd("index build", "list").run()
        rows.append(Row(sec, "first list: builds the index from the TOML files", t, rss_mb=rss / MiB,
                        note=f"{n} manifests written directly in {made:.1f}s"))
        runs = max(self.runs, 5)
        t, rss, _ = timed(ark.cmd("list", "list"), runs)
        rows.append(Row(sec, f"list (all {n} printed)", t, target="< 0.3 s", met=t < 0.3,
                        rss_mb=rss / MiB))
        mid = release_fields(n // 2, *objects[0])
        query = f"{str(mid['product']).split()[-1]} setup"
        t, rss, _ = timed(ark.cmd("search", "list", query), runs)
        rows.append(Row(sec, f"list QUERY (search: '{query}')", t, target="< 0.3 s", met=t < 0.3,
                        rss_mb=rss / MiB))
        t, rss, _ = timed(ark.cmd("show", "show", f"{mid['product']}@{mid['version']}"), runs)
        rows.append(Row(sec, "show PRODUCT@VERSION", t, rss_mb=rss / MiB))
        tiny = d / "tiny"
        tiny.mkdir()
        counter = {"i": 0}

        def next_file() -> None:
            counter["i"] += 1
            (tiny / f"extra-{counter['i']}.exe").write_bytes(os.urandom(4096) + str(counter).encode())
        times, peak = [], 0
        for _ in range(runs + 1):
            next_file()
            i = counter["i"]
            t, rss = ark.cmd("add one", "add", tiny / f"extra-{i}.exe", "--product", "Extra Tool",
                             "--version", f"{i}.0").run()
            times.append(t)
            peak = max(peak, rss)
        t = statistics.median(times[1:])
        rows.append(Row(sec, "add one more release", t, target="< 1 s", met=t < 1.0, rss_mb=peak / MiB))
        t, rss = ark.cmd("list after add", "list").run()
        rows.append(Row(sec, "list right after an add (index updated, racy check)", t,
                        rss_mb=rss / MiB))
        if with_sync:
            remote = d / "remote"
            remote.mkdir()
            ark("remote", "add", "nas", remote)
            t, rss = ark.cmd("first sync", "sync", "nas").run()
            rows.append(Row(sec, "first sync (every manifest sealed)", t, rss_mb=rss / MiB))
            t, rss, _ = timed(ark.cmd("no-op sync", "sync", "nas"), 3)
            rows.append(Row(sec, "sync with nothing to do", t, rss_mb=rss / MiB))
        return rows

    # -- peak memory on a big file -----------------------------------------------------------
    def memory(self, gib: float | None = None, sec: str | None = None,
               rewrap: bool = True) -> list[Row]:
        """Time and peak memory of every command a big file goes through. Ordered so that at
        most two copies of the file exist at once (the source is removed once archived; the
        local object before the restore from the remote), so 16 GiB needs ~32 GiB of disk."""
        gib = gib if gib is not None else self.args.mem_gib
        size = int(gib * GiB)
        label = f"{gib:g} GiB"
        sec = sec or f"peak memory, {label} file"
        self.note(f"memory: {label} file through add, verify, restore, sync, verify --remote, "
                  "restore --from")
        d = self.work / f"mem-{gib:g}"
        d.mkdir()
        src = d / "installer.bin"
        make_random_file(src, size, seed=5)
        store = d / "store"
        ark = Arkeep(store, self.pp)
        ark.init()
        remote = d / "remote"
        remote.mkdir()
        ark("remote", "add", "nas", remote)
        out = d / "restored"
        steps = [
            ("add", ["add", src, "--product", "Big", "--version", "1"], None),
            ("verify (local)", ["verify"], None),
            ("restore", ["restore", "big@1", "--to", out], rm(out)),
            ("sync (seal to a dir remote)", ["sync", "nas"], rm(out)),
            ("verify --remote", ["verify", "--remote", "nas"], None),
            ("restore --from the remote (unseal)", ["restore", "big@1", "--to", out, "--from", "nas"],
             rm(out)),
        ]
        rows = []
        t, rss = ark.cmd("list", "list").run()
        rows.append(Row(sec, "baseline: arkeep list", t, rss_mb=rss / MiB))
        t, rss = self.kdf(store)
        rows.append(Row(sec, "baseline: passphrase unlock alone (scrypt)", t, rss_mb=rss / MiB,
                        note="scrypt n=2^16, r=8, p=2 needs 64 MiB by design"))
        objects = store / "objects"
        for name, args, before in steps:
            if name.startswith("restore --from") and not rewrap:
                shutil.rmtree(objects)   # disk space: restore --from needs only the remote
            t, rss = ark.cmd(name, *args, before=before or (lambda: None)).run()
            rows.append(Row(sec, name, t, target="< 150 MB", met=rss < 150e6, rss_mb=rss / MiB,
                            note=f"{size / MiB / t:.0f} MiB/s"))
            if name == "add":
                src.unlink()        # disk space: the store has it now
            if name == "verify (local)":
                peer = [str(p) for p in objects.rglob("*") if p.is_file()]
                pt, prss = Cmd("b3sum", ["b3sum", *peer]).run()
                rows.append(Row(sec, "  b3sum of the same object (for scale)", pt,
                                rss_mb=prss / MiB, note=f"{size / MiB / pt:.0f} MiB/s; arkeep/b3sum "
                                f"{t / pt:.2f}"))
        rm(out)()
        if rewrap:
            # The same commands on the same store with its key re-wrapped under scrypt n=2^14
            # (16 MiB instead of 64 MiB): what they use besides the KDF's deliberate memory.
            rewrap_cheaply(store)
            for name, args, before in steps:
                if name not in ("sync (seal to a dir remote)", "verify --remote",
                                "restore --from the remote (unseal)"):
                    continue                # these three need the passphrase
                pre = (ark.fresh_remote("nas", remote, remote) if name.startswith("sync")
                       else (before or (lambda: None)))
                t, rss = ark.cmd(name, *args, before=pre).run()
                rows.append(Row(sec, f"{name}, key under scrypt n=2^14", t, target="(data path)",
                                rss_mb=rss / MiB, note="key re-wrapped under scrypt n=2^14 "
                                "(16 MiB): the memory besides the KDF"))
        shutil.rmtree(d)
        return rows

    # -- the sealing engine alone (issue 3, item 4) -------------------------------------------
    def seal(self) -> None:
        """scripts/bench_seal.py (kept with archive/seal/engine.py) times seal, unseal and authenticate
        in-process against 7zz on the same file; its table is reported here as it prints it."""
        mib = max(16, int(self.args.size_gib * 1024))
        self.note(f"seal: scripts/bench_seal.py --size-mib {mib} --runs {self.runs} --no-pyzipper")
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_seal.py"), "--size-mib",
                               str(mib), "--runs", str(self.runs), "--no-pyzipper", "--dir",
                               str(self.work)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchError(f"bench_seal.py exited {proc.returncode}: {proc.stderr[-1000:]}")
        self.results.seal_engine = proc.stdout
        print(proc.stdout, flush=True)

    # -- start-up ----------------------------------------------------------------------------
    def startup(self) -> None:
        self.note("startup: list, show, verify on a small store")
        d = self.work / "startup"
        d.mkdir()
        store = d / "store"
        ark = Arkeep(store, self.pp)
        ark.init()
        f = d / "tool-setup.exe"
        f.write_bytes(os.urandom(100_000))
        ark("add", f, "--product", "Tool", "--version", "1.0", "--licensed-to", "Bench")
        runs = max(10, self.runs)
        t, _, _ = timed(Cmd("python -c pass", [sys.executable, "-c", "pass"]), runs)
        self.results.add(Row("start-up", "python -c pass (for scale)", t))
        bare = ark.without_passphrase()     # as typed: given the passphrase, verify unlocks
        for name, args in (("arkeep list", ["list"]), ("arkeep show", ["show", "tool@1.0"]),
                           ("arkeep verify", ["verify"])):
            t, rss, _ = timed(bare.cmd(name, *args), runs)
            self.results.add(Row("start-up", f"{name} (small store)", t, target="< 0.15 s",
                                 met=t < 0.15, rss_mb=rss / MiB, note="bytecode cached, as installed"))
        cold = ark.cmd("arkeep list, no bytecode cache", "list")
        cold.env = {**ark.env, "PYTHONDONTWRITEBYTECODE": "1"}
        cold.env.pop("PYTHONPYCACHEPREFIX")
        t, rss, _ = timed(cold, runs)
        self.results.add(Row("start-up", "arkeep list, every module compiled from source", t,
                             rss_mb=rss / MiB, note="PYTHONDONTWRITEBYTECODE=1, as in this dev env"))
        shutil.rmtree(d)

    # -- growth --------------------------------------------------------------------------------
    def growth(self) -> None:
        for n in self.args.growth_releases:
            self.note(f"growth: {n} releases")
            d = self.work / f"growth-{n}"
            d.mkdir()
            rows = self.catalog_rows(d, n, f"{n} releases", with_sync=n <= self.args.growth_sync_max)
            for row in rows:
                self.results.add(row)
            self.results.growth.append({"releases": n, "rows": [asdict(r) for r in rows]})
            shutil.rmtree(d)
        for gib in self.args.growth_gib:
            # Two copies at most (see memory()), and room left for everyone else on the disk.
            need = gib * GiB * 2.1 + 10 * GiB
            free = shutil.disk_usage(self.work).free
            if free < need:
                row = Row(f"{gib:g} GiB file", "skipped", note=f"needs ~{need / GiB:.0f} GiB free, "
                          f"{free / GiB:.0f} GiB available")
                self.results.add(row)
                self.results.growth.append({"gib": gib, "rows": [asdict(row)]})
                continue
            rows = self.memory(gib, f"{gib:g} GiB file", rewrap=False)
            for row in rows:
                self.results.add(row)
            self.results.growth.append({"gib": gib, "rows": [asdict(r) for r in rows]})


SEVEN_A = "7zz a -tzip -mem=AES256 -mx0"
SECTIONS = ("startup", "catalog", "many", "big", "remote", "s3", "seal", "memory")
# `remote` is every replica's read and write of issue 19: the folder remote's sync, verify
# --remote, restore --from and audit, and the upload to S3 (the s3 section).
ALIASES = {"remote": ("remote", "s3")}


def main() -> int:
    ap = argparse.ArgumentParser(description="arkeep side by side with cp, b3sum, 7zz, restic, "
                                             "borg and rclone", epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-gib", type=float, default=1.0, help="the big file (default 1)")
    ap.add_argument("--runs", type=int, default=3, help="timed rounds after the warm-up (default 3)")
    ap.add_argument("--releases", type=int, default=100_000, help="catalog size (default 100000)")
    ap.add_argument("--objects", type=int, default=10_000, help="objects for the no-op sync (10000)")
    ap.add_argument("--mem-gib", type=float, default=4.0, help="file for the memory section (4)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run in a few minutes: 64 MiB, 2 runs, 5k releases, 1k objects, "
                         "256 MiB for memory")
    ap.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    ap.add_argument("--dir", type=Path, help="work directory (default: a new one under /tmp, on the "
                                             "same filesystem as the store)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--growth", action="store_true", help="run the growth table instead")
    ap.add_argument("--growth-releases", default="1000,10000,100000")
    ap.add_argument("--growth-gib", default="1,4,16")
    ap.add_argument("--growth-sync-max", type=int, default=10_000,
                    help="largest catalog that also gets a first and a no-op sync (default 10000)")
    args = ap.parse_args()
    if args.quick:
        args.size_gib, args.runs, args.releases, args.objects, args.mem_gib = 1 / 16, 2, 5000, 1000, 0.25
    args.growth_releases = [int(x) for x in args.growth_releases.split(",") if x]
    args.growth_gib = [float(x) for x in args.growth_gib.split(",") if x]
    sections = args.only.split(",") if args.only else list(SECTIONS)
    sections = [x for name in sections for x in ALIASES.get(name, (name,))]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    for tool in ("7zz", "b3sum"):
        if not shutil.which(tool):
            print(f"{tool} is not on PATH: run scripts/bench (it installs the peers)", file=sys.stderr)
            return 2
    base = args.dir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="arkeep-bench-", dir=base))
    global PYCACHE
    PYCACHE = work / "pycache"
    results = Results()
    results.machine = machine_info(work)
    results.commands = [" ".join(sys.argv)]
    bench = Bench(args, work, results)
    print(f"work directory {work}; {results.machine['nproc']} CPUs, load {os.getloadavg()[0]:.2f}",
          flush=True)
    failed = []
    try:
        if args.growth:
            bench.growth()
        else:
            for name in SECTIONS:
                if name not in sections:
                    continue
                try:
                    if name == "memory":
                        for row in bench.memory():
                            results.add(row)
                    else:
                        getattr(bench, name)()
                except (BenchError, subprocess.CalledProcessError, OSError) as exc:
                    failed.append(name)
                    print(f"!! section {name} failed: {exc}", file=sys.stderr, flush=True)
    finally:
        bench.close()
        results.machine["load_end"] = os.getloadavg()[0]
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps({"machine": results.machine, "commands": results.commands,
                                         "rows": [asdict(r) for r in results.rows],
                                         "growth": results.growth,
                                         "seal_engine": results.seal_engine}, indent=2, default=str))
    missed = [r for r in results.rows if r.met is False]
    print(f"\n{sum(r.met is True for r in results.rows)} targets met, {len(missed)} missed"
          + (f"; sections failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
