"""docs/RECOVERY.md, followed step by step on a directory replica with 7-Zip, b3sum and text search.

The commands are taken from the document itself (and from the recovery kit's text), with the
placeholders filled in, so a wrong command in the document fails this test. No arkeep code reads
anything here: only the shell, 7zz, b3sum and plain string search over the extracted files.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from archive.present.kit import KIT_TEMPLATE
from tests.archive.replication_support import (
    KEY,
    PRODUCT,
    Sample,
    add_sample,
)
from tests.conftest import ROOT

DOC = ROOT / "docs" / "RECOVERY.md"
EXAMPLE_CODE = "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567"


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def doc_line(startswith: str, text: str) -> str:
    lines = [line.strip() for block in sh_blocks(text) for line in block.splitlines()
             if line.strip().startswith(startswith)]
    assert len(lines) == 1, f"expected one `{startswith}…` command in {DOC.name}, found {lines}"
    return lines[0]


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


DETECTED = {"product": "MSI Property table: ProductName",
            "version": "MSI Property table: ProductVersion"}


def add_inspected(store_dir: Path, tmp_path: Path) -> None:
    """A release whose values were read from its installer, as `arkeep add X.msi` writes it:
    its [artifact.detected] table has `product = …` and `version = …` lines of its own."""
    from archive.intake.add import AddRequest, add_release
    from archive.storage.store import Store

    msi = tmp_path / "ContosoLedger-4.2.1-x64.msi"
    msi.write_bytes(b"MSI stand-in " * 100)
    store = Store.open(store_dir)
    with store.writing("test"):
        add_release(store, AddRequest(product="Contoso Ledger", version="4.2.1", installers=(msi,),
                                      detected={msi.name: dict(DETECTED)}))


@pytest.fixture
def replica(cli, store_dir: Path, tmp_path: Path) -> tuple[Sample, Sample, Path]:  # type: ignore[no-untyped-def]
    first = add_sample(cli, tmp_path)
    second = add_sample(cli, tmp_path, version="8.0", size=20_000, key=False)
    add_inspected(store_dir, tmp_path)
    nas = tmp_path / "NAS share"        # a space in the path: the doc's quoting must hold
    assert cli("remote", "add", "nas", nas, "--create").code == 0
    assert cli("sync").code == 0
    return first, second, nas


def test_recovery_md_step_by_step(replica, recovery_code: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, _, nas = replica
    doc = DOC.read_text()
    work = tmp_path / "by-hand"
    work.mkdir()

    # 1. Open every bundle, with the document's command and the recovery code as printed.
    command = doc_line("7zz x ", doc)
    assert EXAMPLE_CODE in command and "REPLICA" in command
    assert doc_line("mkdir ", doc) == "mkdir recovered"
    (work / "recovered").mkdir()
    filled = command.replace(EXAMPLE_CODE, recovery_code).replace("REPLICA", str(nas))
    # REPLICA sits inside single quotes in the doc; a path with a space must still be one word.
    assert shlex.split(filled)[-1] == f"{nas}/units/*/*.zip"
    opened = run(filled, work)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    bundles = sorted(nas.glob("units/*/*.zip"))
    assert f"Archives: {len(bundles)}" in opened.stdout
    recovered = work / "recovered"
    extracted = sorted(recovered.iterdir())
    assert len(extracted) == len(bundles)
    # "Each bundle holds one file, named like the bundle."
    assert {p.name.removesuffix(".toml") for p in extracted} == {b.stem for b in bundles}

    # 2. Find the release: the document's command prints each release's product and version,
    # two lines per release after its file name, and nothing else (no provenance lines).
    found = run(doc_line("grep -l '^kind = \"release\"'", doc), work)
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    releases = [p for p in recovered.glob("*.toml") if 'kind = "release"' in p.read_text()]
    assert len(releases) == 3 and len(lines) == 6, found.stdout
    assert not [line for line in lines if "Property table" in line], found.stdout
    shown: dict[str, list[str]] = {}
    for line in lines:
        name, _, field = line.partition(":")
        shown.setdefault(name, []).append(field)
    assert sorted(shown) == sorted(f"recovered/{p.name}" for p in releases)
    assert sorted(map(tuple, shown.values())) == sorted([
        (f'product = "{PRODUCT}"', 'version = "7.5.1"'), (f'product = "{PRODUCT}"', 'version = "8.0"'),
        ('product = "Contoso Ledger"', 'version = "4.2.1"')])
    (mine,) = [name for name, fields in shown.items() if 'version = "7.5.1"' in fields]
    manifest = (work / mine).read_text()

    # 3. Each [[artifact]] names filename, blake3 and unit; copy the unit out, b3sum it.
    artifacts = manifest.split("[[artifact]]")[1:]
    assert len(artifacts) == 2
    for block in artifacts:
        fields = dict(re.findall(r'^(role|filename|blake3|unit) = "([^"]*)"$', block, flags=re.M))
        assert set(fields) == {"role", "filename", "blake3", "unit"}, block
        out = work / fields["filename"]
        assert "cp recovered/" in doc and "b3sum " in doc
        shutil.copyfile(recovered / fields["unit"], out)
        digest = subprocess.run(["b3sum", out.name], cwd=work, capture_output=True, text=True,
                                check=True).stdout.split()[0]
        assert digest == fields["blake3"], fields["filename"]
    assert (work / first.installer.name).read_bytes() == first.installer.read_bytes()
    assert (work / first.license_file.name).read_bytes() == first.license_file.read_bytes()

    # 4. The key: the release's `licenses` list names the record; its file holds the key.
    listed = re.search(r"^licenses = \[(.*?)\]", manifest, flags=re.M | re.S)
    assert listed, "the release lists its licence records in `licenses = [...]`"
    (licence_id,) = re.findall(r'"(lic-[0-9a-f]+)"', listed.group(1))
    grep = doc_line("grep -l 'id = ", doc)
    assert 'id = "lic-' in grep
    records = [p for p in recovered.glob("*.toml") if f'id = "{licence_id}"' in p.read_text()]
    assert len(records) == 1
    record = records[0].read_text()
    assert 'kind = "license"' in record
    assert f'key = "{KEY}"' in record


def test_the_recovery_kit_gives_the_same_commands(replica, recovery_code: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, _, nas = replica
    kit = KIT_TEMPLATE.format(code=recovery_code, key_id="k", store="s", created="c")
    doc_command = doc_line("7zz x ", DOC.read_text()).replace(EXAMPLE_CODE, recovery_code)
    (kit_command,) = [line.strip() for line in kit.splitlines() if line.strip().startswith("7zz x ")]
    assert kit_command == doc_command
    work = tmp_path / "kit"
    (work / "recovered").mkdir(parents=True)
    opened = run(kit_command.replace("REPLICA", str(nas)), work)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    # Kit step 2 is the document's step 2; step 4: the key is in a licence record.
    doc_grep = doc_line("grep -l '^kind = \"release\"'", DOC.read_text())
    assert doc_grep in kit
    found = [p for p in (work / "recovered").glob("*.toml")
             if 'kind = "release"' in p.read_text() and f'product = "{PRODUCT}"' in p.read_text()]
    assert len(found) == 2
    licences = [p for p in (work / "recovered").glob("*.toml") if 'kind = "license"' in p.read_text()]
    assert len(licences) == 2      # the second release has a licence file but no key; the third none
    assert sorted(f'key = "{KEY}"' in p.read_text() for p in licences) == [False, True]
