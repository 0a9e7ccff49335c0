"""No secret in plain text where it must never be: a whole session of separate arkeep processes
(init, add with a key from a file and from stdin, directory and S3 remotes, sync, verify local
and remote, list, show, status, whereis, restore, export --zip, rebuild, key passwd, and errors:
wrong passphrase, wrong S3 credentials with --debug, unknown release, missing key file), then a
search for the licence keys, the passphrase (old and new) and the recovery code (as printed,
without dashes, in lower case) in:

- stdout and stderr of every command, except `show --reveal` and `restore` (they print or write
  the key on purpose) and `init`'s own recovery kit file (the user's printout);
- every file and every path on the directory remote, every key and object in the S3 bucket;
- every byte and every path of the local store, of the rebuilt store, and of the exported zip
  (whose entries are encrypted with the recovery code);
- the process list while the commands run: a background thread reads /proc/*/cmdline and, for
  arkeep's own processes, /proc/*/environ, every few milliseconds. (The passphrase is given with
  --passphrase-file here; ARKEEP_PASSPHRASE would be in arkeep's environment, readable by the
  same user: docs/THREATS.md says so.)
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY_1 = "KEYQ-ZZ9P-LURA-LZAL-PHA4417"
KEY_2 = "SERIAL/ostrich-9931-WOMBAT"
KEY_3 = "HARV3-STED9-SERIA-LKEY7-VMWR2"
PASSPHRASE = "Seance ostrich 7731 lantern passphrase"
NEW_PASSPHRASE = "Second velvet marmot 5522 passphrase"


class ProcessWatcher(threading.Thread):
    """Samples every process's command line (and arkeep's environment) until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[bytes] = set()
        self.samples = 0
        self.arkeep_seen = 0
        self._halt = threading.Event()

    def run(self) -> None:
        me = str(os.getpid())
        while not self._halt.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or pid == me:
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmdline = f.read()
                except OSError:
                    continue
                self.seen.add(cmdline)
                if b"archive" in cmdline and b"-m" in cmdline:
                    self.arkeep_seen += 1
                    try:
                        with open(f"/proc/{pid}/environ", "rb") as f:
                            self.seen.add(f.read())
                    except OSError:
                        pass
            self.samples += 1
            time.sleep(0.003)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def all_bytes(root: Path) -> list[tuple[str, bytes]]:
    """(path, content) of every file under root, and every path as a string."""
    found = []
    for path in sorted(root.rglob("*")):
        found.append((f"path {path}", str(path).encode()))
        if path.is_file() and not path.is_symlink():
            found.append((str(path), path.read_bytes()))
    return found


@pytest.mark.timeout(600)
def test_no_secret_anywhere_it_must_not_be(tmp_path: Path, s3_env) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path
    store, nas, out = home / "store", home / "nas", home / "out"
    nas.mkdir()
    out.mkdir()
    pass_file = home / "pass.txt"
    pass_file.write_text(PASSPHRASE + "\n")
    key_file = home / "key.txt"
    key_file.write_text(KEY_1 + "\n")
    installer = home / "Setup-Secret-3.1.exe"
    installer.write_bytes(os.urandom(300_000))
    invoice = home / "invoice.pdf"
    invoice.write_bytes(b"%PDF-1.4 invoice order 1234\n" * 100)
    receipt = home / "receipt.eml"          # a receipt that prints the key (issue 12.3)
    receipt.write_text(f"Subject: order 1234\n\nYour key: {KEY_1}\n")
    tool = home / "tool-2.0.msi"
    tool.write_bytes(os.urandom(50_000))
    disk = home / "old-disk"                 # a Linux disk whose VMware licence file holds KEY_3
    (disk / "etc" / "vmware").mkdir(parents=True)
    (disk / "home" / "user").mkdir(parents=True)
    (disk / "etc" / "vmware" / "license-ws-170-e5-202208").write_text(f'Serial = "{KEY_3}"\n')
    bucket = s3_env.new_bucket_name("secrets")
    env = {k: v for k, v in os.environ.items() if k not in ("ARKEEP_PASSPHRASE", "ARKEEP_STORE")}
    env.update(s3_env.env())
    env["ARKEEP_STORE"] = str(store)
    env["PYTHONPATH"] = str(ROOT)
    outputs: list[tuple[str, str]] = []
    watcher = ProcessWatcher()
    watcher.start()

    def arkeep(*args: object, code: int | None = 0, stdin: str | None = None, record: bool = True,
               passphrase: Path | None = pass_file, extra_env: dict[str, str] | None = None) -> str:
        argv = [sys.executable, "-m", "archive", *map(str, args)]
        if passphrase is not None:
            argv += ["--passphrase-file", str(passphrase)]
        result = subprocess.run(argv, env={**env, **(extra_env or {})}, input=stdin,
                                capture_output=True, text=True, cwd=home, start_new_session=True,
                                timeout=300, check=False)
        if code is not None:
            assert result.returncode == code, (args, result.returncode, result.stdout, result.stderr)
        if record:
            outputs.append((f"arkeep {' '.join(map(str, args))}", result.stdout + result.stderr))
        return result.stdout

    try:
        arkeep("init", "--recovery-kit", home / "kit.txt")
        code = next(line.strip() for line in (home / "kit.txt").read_text().splitlines()
                    if line.strip().count("-") == 7 and len(line.strip()) == 39)
        arkeep("add", installer, "--product", "Secret Suite", "--version", "3.1", "--key-file",
               key_file, "--invoice", invoice, "--receipt", receipt, "--licensed-to", "A. User",
               "--order-number", "1234")
        arkeep("add", tool, "--product", "Tool", "--version", "2.0", "--key-stdin", stdin=KEY_2 + "\n")
        arkeep("harvest", disk, passphrase=None)
        arkeep("harvest", disk, "--json", passphrase=None)
        assert "Recorded VMware Workstation" in arkeep("harvest", disk, "--apply", "--yes")
        arkeep("remote", "add", "nas", nas, "--create")
        arkeep("remote", "add", "cloud", f"s3://{bucket}/vault")
        arkeep("remote", "list")
        arkeep("sync")
        arkeep("verify")
        arkeep("verify", "--remote", "nas")
        arkeep("verify", "--all")
        arkeep("list")
        arkeep("show", "secret-suite@3.1")
        arkeep("show", "secret-suite@3.1", "--json")
        arkeep("status", code=None)
        arkeep("whereis", "secret-suite@3.1")
        arkeep("audit", "--budget", "1")                              # full: with the passphrase
        arkeep("audit", "--budget", "1", "--due", passphrase=None)    # digest, as scheduled
        arkeep("due")
        arkeep("schedule")
        shown = arkeep("show", "secret-suite@3.1", "--reveal", record=False)
        assert KEY_1 in shown  # the one place it is shown, on purpose
        arkeep("restore", "secret-suite@3.1", "--to", out / "restored", record=False)
        arkeep("restore", "tool@2.0", "--to", out / "restored-from-nas", "--from", "nas",
               record=False)
        assert KEY_1 in (out / "restored" / "LICENSE.txt").read_text()
        arkeep("export", "secret-suite@3.1", "--zip", out / "secret-suite.zip")
        arkeep("export", "secret-suite@3.1", "--bagit", out / "bag")
        arkeep("export", "--csv", out / "inventory.csv")
        arkeep("--store", home / "rebuilt", "rebuild", "--from", nas)
        # Errors, as a user meets them.
        wrong = home / "wrong.txt"
        wrong.write_text("not the passphrase\n")
        arkeep("sync", code=2, passphrase=wrong)
        arkeep("restore", "secret-suite@3.1", "--to", out / "never", code=2, passphrase=wrong)
        arkeep("--debug", "verify", "--remote", "cloud", code=None,
               extra_env={"AWS_SECRET_ACCESS_KEY": "wrong-secret-key-000"})
        arkeep("restore", "nothing@1", "--to", out / "never", code=2)
        arkeep("add", installer, "--product", "X", "--version", "1", "--key-file",
               home / "missing-key.txt", code=2)
        arkeep("verify", "--remote", "nowhere", code=2)
        # A passphrase change: the new one must not leak either.
        new_file = home / "new-pass.txt"
        new_file.write_text(NEW_PASSPHRASE + "\n")
        arkeep("key", "passwd", "--new-passphrase-file", new_file)
        arkeep("sync", passphrase=new_file)
        arkeep("sync", code=2)  # the old passphrase no longer opens the store
    finally:
        watcher.stop()

    places: list[tuple[str, bytes]] = [(f"output of {name}", text.encode()) for name, text in outputs]
    places += all_bytes(store) + all_bytes(nas) + all_bytes(home / "rebuilt")
    places.append(("the exported zip", (out / "secret-suite.zip").read_bytes()))
    places += all_bytes(out / "bag")
    places.append(("the exported CSV", (out / "inventory.csv").read_bytes()))
    client = s3_env.client()
    for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        places.append((f"S3 key {obj['Key']}", obj["Key"].encode()))
        places.append((f"S3 object {obj['Key']}", client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
    places += [("the process list", sample) for sample in watcher.seen]
    secrets = {
        "licence key 1": KEY_1, "licence key 2": KEY_2, "harvested key": KEY_3,
        "passphrase": PASSPHRASE,
        "new passphrase": NEW_PASSPHRASE, "recovery code": code,
        "recovery code without dashes": code.replace("-", ""),
        "recovery code, lower case": code.lower(),
        "recovery code, lower case without dashes": code.replace("-", "").lower(),
    }
    leaks = [f"{what} in {where}" for where, data in places
             for what, secret in secrets.items() if secret.encode() in data]
    assert leaks == [], "\n".join(leaks)
    assert watcher.arkeep_seen > 0 and watcher.samples > 50, (watcher.samples, watcher.arkeep_seen)
    s3_objects = sum(1 for where, _ in places if where.startswith("S3 object"))
    print(f"\nsearched {len(places)} places ({len(outputs)} command outputs, {s3_objects} S3 objects, "
          f"{len(watcher.seen)} distinct process command lines/environments from "
          f"{watcher.samples} samples): no secret found")
