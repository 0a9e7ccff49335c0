"""arkeep trust: a root certificate and an OpenPGP key imported once into the store are used by
add and verify --authenticity without being named again."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from archive.storage.store import Store
from tests.authenticity.conftest import PYTHON_EXE
from tests.authenticity.test_authenticode import own_root
from tests.authenticity.test_openpgp import SIGNER, vendor  # noqa: F401 - the fixture

ROOT_NAME = "Microsoft Identity Verification Root Certificate Authority 2020"


def microsoft_root_pem(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives.serialization import Encoding

    root = own_root(PYTHON_EXE).certificates[0]
    path = tmp_path / "microsoft-root.crt"
    path.write_bytes(root.public_bytes(Encoding.PEM))
    return path


def test_an_imported_root_makes_the_chain_trusted(store_dir: Path, cli, tmp_path: Path) -> None:
    added = cli("trust", "add", microsoft_root_pem(tmp_path))
    assert added.code == 0, added.err
    assert ROOT_NAME in added.out and "5367f20c7ade0e2b" in added.out
    target = tmp_path / "python.exe"
    shutil.copy(PYTHON_EXE, target)
    done = cli("add", target, "--product", "Python embeddable", "--version", "3.13.2")
    assert done.code == 0, done.err
    assert "chain to a trusted root: yes" in done.out
    record = Store.open(store_dir).catalog.resolve("python-embeddable@3.13.2").artifacts[0].authenticity
    assert record.chain_status == "trusted" and record.anchor
    gone = cli("trust", "remove", "5367f20c")
    assert gone.code == 0 and ROOT_NAME in gone.out
    assert "Nothing beyond" in cli("trust", "list").out
    again = cli("verify", "--authenticity")          # the root is still frozen in the manifest
    assert again.code == 0 and "chain to a trusted root: yes" in again.out


def test_an_imported_openpgp_key_checks_signatures(store_dir: Path, cli, tmp_path: Path,
                                                   vendor) -> None:  # noqa: F811
    public, sign = vendor
    added = cli("trust", "add", public)
    assert added.code == 0, added.err
    assert SIGNER in added.out
    listed = json.loads(cli("--json", "trust", "list").out)
    assert [(t["kind"], t["name"]) for t in listed] == [("openpgp", SIGNER)]
    target = tmp_path / "python.exe"
    shutil.copy(PYTHON_EXE, target)
    sign(target)
    done = cli("add", target, "--product", "Python embeddable", "--version", "3.13.2")
    assert done.code == 0, done.err
    assert f"OpenPGP (python.exe.asc): signed by {SIGNER}" in done.out


def test_trust_refuses_what_it_cannot_read(store_dir: Path, cli, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("neither\n")
    bad = cli("trust", "add", junk)
    assert bad.code == 2 and "neither an X.509 certificate" in bad.err
    assert cli("trust", "add", tmp_path / "missing.pem").code == 2
    assert cli("trust", "remove", "deadbeef").code == 2
    assert cli("trust", "remove", "ab").code == 2
