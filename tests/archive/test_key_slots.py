"""Key slots (issue 18, item 1): one archive secret wrapped once per person; `key add / list /
remove / passwd NAME`; replicas carry the slots; key files of one slot keep the old form."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import blake3
import pytest
import tomli_w

from archive.crypto import keys, slots
from archive.crypto.keyring import Keyring
from archive.errors import UsageError, WrongPassphrase
from tests.archive.replication_support import KEY, add_sample
from tests.conftest import PASSPHRASE

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN_SECRET = bytes(range(20))
GOLDEN = Keyring(GOLDEN_SECRET)
BOB, CAROL = "bob's own long passphrase, 1987", "carol keeps a different one: tulip-42"


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "SCRYPT_N", 2**10)
    monkeypatch.setattr(keys, "SCRYPT_P", 1)


def golden_table() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((DATA / "golden-key-n17.toml").read_text())


# -- the key file ---------------------------------------------------------------------------

def test_a_key_file_of_the_old_form_is_one_slot_named_owner_and_keeps_its_fingerprint() -> None:
    table = golden_table()
    assert list(keys.slot_tables(table)) == ["owner"]
    assert keys.unwrap_slot(table, "golden passphrase") == (GOLDEN_SECRET, "owner")
    # The fingerprint recorded in ledgers before key slots: BLAKE3 of salt, nonce, ciphertext.
    old = "\0".join([table["kdf"]["salt"], table["cipher"]["nonce"], table["cipher"]["ciphertext"]])
    assert keys.wrapping_id(table) == blake3.blake3(old.encode()).hexdigest()[:16]


def test_adding_slots_makes_schema_2_and_removing_them_gives_back_schema_1() -> None:
    table = golden_table()
    table["remotes"] = "ENC[AES256_GCM,v1,sealed remote list]"
    two = slots.add_slot(table, GOLDEN, "bob", BOB)
    three = slots.add_slot(two, GOLDEN, "carol", CAROL)
    assert three["schema"] == 2 and list(three["slots"]) == ["owner", "bob", "carol"]
    assert three["remotes"] == table["remotes"] and three["key_id"] == table["key_id"]
    # It goes through TOML unchanged, and each passphrase opens its own slot.
    again = tomllib.loads(tomli_w.dumps(three))
    for passphrase, name in (("golden passphrase", "owner"), (BOB, "bob"), (CAROL, "carol")):
        assert keys.unwrap_slot(again, passphrase) == (GOLDEN_SECRET, name)
    with pytest.raises(WrongPassphrase, match="none of the 3 key slots"):
        keys.unwrap_slot(again, "nobody's")
    assert len({keys.wrapping_id(t) for t in (table, two, three)}) == 3

    back = slots.remove_slot(slots.remove_slot(again, "bob"), "carol")
    assert tomli_w.dumps(back) == tomli_w.dumps(table)       # the very file it was
    with pytest.raises(WrongPassphrase):
        keys.unwrap_secret(slots.remove_slot(again, "bob"), BOB)


def test_the_one_slot_left_keeps_its_name_in_the_old_form() -> None:
    table = slots.add_slot(golden_table(), GOLDEN, "bob", BOB)
    only_bob = slots.remove_slot(table, "owner")
    assert only_bob["schema"] == 1 and only_bob["slot"] == "bob" and "slots" not in only_bob
    assert keys.unwrap_slot(only_bob, BOB) == (GOLDEN_SECRET, "bob")


def test_a_slot_changes_its_passphrase_and_keeps_its_date() -> None:
    table = slots.add_slot(golden_table(), GOLDEN, "bob", BOB)
    changed = slots.rewrap_slot(table, GOLDEN, "bob", CAROL)
    assert changed["slots"]["bob"]["created"] == table["slots"]["bob"]["created"]
    assert keys.unwrap_slot(changed, CAROL) == (GOLDEN_SECRET, "bob")
    with pytest.raises(WrongPassphrase):
        keys.unwrap_secret(changed, BOB)
    assert changed["slots"]["owner"] == table["slots"]["owner"]


@pytest.mark.parametrize("bad", ["", " bob", "bob smith", "-bob", "_x", "a/b", "x" * 41, "bob\n"])
def test_bad_slot_names_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="not a key slot name"):
        slots.add_slot(golden_table(), GOLDEN, bad, BOB)


def test_what_cannot_be_done_to_slots_is_refused_with_reasons() -> None:
    table = slots.add_slot(golden_table(), GOLDEN, "bob", BOB)
    with pytest.raises(UsageError, match="already a key slot named 'bob'"):
        slots.add_slot(table, GOLDEN, "bob", CAROL)
    with pytest.raises(UsageError, match="already opens key slot 'bob'"):
        slots.add_slot(table, GOLDEN, "carol", BOB)
    with pytest.raises(UsageError, match="not this key file"):
        slots.add_slot(table, Keyring(bytes(20)), "carol", CAROL)
    with pytest.raises(UsageError, match="no key slot named 'carol'"):
        slots.remove_slot(table, "carol")
    with pytest.raises(UsageError, match="only key slot"):
        slots.remove_slot(golden_table(), "owner")


@pytest.mark.parametrize("damage", [
    lambda t: t.update(slots="x"), lambda t: t.update(slots={}),
    lambda t: t["slots"]["bob"].pop("kdf"), lambda t: t["slots"]["bob"]["cipher"].update(nonce="!"),
    lambda t: t.update(schema=3)])
def test_a_damaged_key_file_of_slots_is_a_clear_error(damage) -> None:  # type: ignore[no-untyped-def]
    table = slots.add_slot(golden_table(), GOLDEN, "bob", BOB)
    damage(table)
    with pytest.raises(UsageError, match="key.toml") as caught:
        keys.unwrap_slot(table, BOB)
    assert not isinstance(caught.value, WrongPassphrase) or "bob" not in str(caught.value)
    assert BOB not in str(caught.value)


# -- the command line -----------------------------------------------------------------------

def passphrase_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.txt"
    path.write_text(text + "\n")
    return path


def test_three_people_each_open_the_store_and_a_removed_one_opens_no_replica(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_env) -> None:
    """The issue's "done when": after `key remove bob` and a sync, Bob's passphrase opens
    neither the store nor a rebuild from the S3 replica; the others still do."""
    sample = add_sample(cli, tmp_path)
    bucket = s3_env.new_bucket_name("slots")
    s3_env.client().create_bucket(Bucket=bucket)
    nas = tmp_path / "nas"
    nas.mkdir()
    assert cli("remote", "add", "nas", nas).code == 0
    assert cli("remote", "add", "cloud", f"s3://{bucket}/vault").code == 0
    assert cli("sync").code == 0

    for name, text in (("bob", BOB), ("carol", CAROL)):
        added = cli("key", "add", name, "--new-passphrase-file", passphrase_file(tmp_path, name, text))
        assert added.code == 0, added.err
        assert "the new key file is on: cloud, nas" in added.out
        assert text not in added.out + added.err
    for text, name in ((PASSPHRASE, "owner"), (BOB, "bob"), (CAROL, "carol")):
        monkeypatch.setenv("ARKEEP_PASSPHRASE", text)
        shown = cli("show", sample.rid, "--reveal")
        assert shown.code == 0 and KEY in shown.out, shown.err
        listed = json.loads(cli("key", "list", "--json").out)["slots"]
        assert [s["name"] for s in listed] == ["owner", "bob", "carol"]
        assert [s["name"] for s in listed if s["current"]] == [name]
        assert all(s["last_used"] for s in listed if s["name"] == name)
    assert BOB not in (store_dir / "key.toml").read_text()

    monkeypatch.setenv("ARKEEP_PASSPHRASE", CAROL)
    removed = cli("key", "remove", "bob", "--json")
    assert removed.code == 0, removed.err
    assert json.loads(removed.out) == {"slot": "bob", "removed_by": "carol",
                                       "updated": ["cloud", "nas"], "not_updated": {}}
    assert cli("sync").code == 0

    monkeypatch.setenv("ARKEEP_PASSPHRASE", BOB)
    refused = cli("show", sample.rid, "--reveal")
    assert refused.code == 2 and "wrong passphrase" in refused.err and KEY not in refused.out
    bob_rebuild = cli("--store", tmp_path / "bobs-machine", "rebuild", "--from", f"s3://{bucket}/vault")
    assert bob_rebuild.code == 2 and "wrong passphrase" in bob_rebuild.err
    assert not (tmp_path / "bobs-machine" / "objects").exists()
    for text in (PASSPHRASE, CAROL):
        monkeypatch.setenv("ARKEEP_PASSPHRASE", text)
        target = tmp_path / f"machine-{len(text)}"
        rebuilt = cli("--store", target, "rebuild", "--from", f"s3://{bucket}/vault")
        assert rebuilt.code == 0, rebuilt.err
        assert KEY in cli("--store", target, "show", sample.rid, "--reveal").out
    assert (nas / "key.toml").read_bytes() == (store_dir / "key.toml").read_bytes()


def test_a_removed_slot_still_opens_an_unplugged_replica_until_it_is_synced(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_sample(cli, tmp_path)
    usb = tmp_path / "drives" / "usb1"
    usb.mkdir(parents=True)
    assert cli("remote", "add", "usb", usb, "--drive").code == 0
    assert cli("key", "add", "bob", "--new-passphrase-file",
               passphrase_file(tmp_path, "bob", BOB)).code == 0
    assert cli("sync").code == 0
    away = tmp_path / "unplugged"
    usb.rename(away)
    removed = cli("key", "remove", "bob")
    assert removed.code == 0, removed.err
    assert "NOT updated: usb: not reachable" in removed.out
    assert "those still hold a key file that 'bob' opens until `arkeep sync`" in removed.out
    assert "docs/THREATS.md" in removed.err
    old = tomllib.loads((away / "arkeep" / "key.toml").read_text())
    assert keys.unwrap_slot(old, BOB)[1] == "bob"
    notes = json.loads(cli("status", "--json").out)["notes"]
    assert any("remote 'usb' holds the key file of an older passphrase" in n for n in notes)
    away.rename(usb)
    assert cli("sync", "usb").code == 0
    with pytest.raises(WrongPassphrase):
        keys.unwrap_secret(tomllib.loads((usb / "arkeep" / "key.toml").read_text()), BOB)


def test_key_passwd_name_resets_another_slot_and_without_name_changes_ones_own(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("key", "add", "--name", "bob", "--new-passphrase-file",
               passphrase_file(tmp_path, "bob", BOB)).code == 0
    reset = cli("key", "passwd", "bob", "--new-passphrase-file", passphrase_file(tmp_path, "c", CAROL))
    assert reset.code == 0 and "Passphrase changed (key slot 'bob')" in reset.out, reset.err
    monkeypatch.setenv("ARKEEP_PASSPHRASE", BOB)
    assert cli("key", "list").code == 2
    monkeypatch.setenv("ARKEEP_PASSPHRASE", CAROL)
    own = cli("key", "passwd", "--json", "--new-passphrase-file", passphrase_file(tmp_path, "b", BOB))
    assert own.code == 0 and json.loads(own.out)["slot"] == "bob", own.err
    monkeypatch.setenv("ARKEEP_PASSPHRASE", PASSPHRASE)
    listed = cli("key", "list")
    assert listed.code == 0 and "owner" in listed.out and "(you)" in listed.out
    assert BOB not in listed.out + listed.err and CAROL not in listed.out + listed.err


def test_key_add_refusals_change_nothing(cli, store_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = (store_dir / "key.toml").read_bytes()
    same = passphrase_file(tmp_path, "same", PASSPHRASE)
    cases = [(["key", "add", "bob", "--new-passphrase-file", same], "already opens key slot 'owner'"),
             (["key", "add", "owner", "--new-passphrase-file", passphrase_file(tmp_path, "b", BOB)],
              "already a key slot named 'owner'"),
             (["key", "add", "--new-passphrase-file", same], "not a key slot name"),
             (["key", "add", "bob", "--name", "carol"], "give the name once"),
             (["key", "add", "bob", "--generate", "--json"], "--generate prints"),
             (["key", "remove", "owner"], "only key slot"),
             (["key", "remove", "nobody"], "no key slot named 'nobody'"),
             (["key", "passwd", "nobody", "--new-passphrase-file", same], "no key slot named")]
    for args, message in cases:
        result = cli(*args)
        assert result.code == 2 and message in result.err, (args, result.err)
        assert PASSPHRASE not in result.out + result.err
    assert (store_dir / "key.toml").read_bytes() == before


def test_key_add_generate_prints_a_passphrase_once_that_opens_the_store(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    added = cli("key", "add", "heirs", "--generate")
    assert added.code == 0, added.err
    code = next(w for w in added.out.split() if w.count("-") == 7)
    monkeypatch.setenv("ARKEEP_PASSPHRASE", code)
    listed = json.loads(cli("key", "list", "--json").out)["slots"]
    assert [s["name"] for s in listed if s["current"]] == ["heirs"]
    assert code not in (store_dir / "key.toml").read_text()


def test_the_store_written_by_3ee906e_opens_and_takes_a_second_slot(  # type: ignore[no-untyped-def]
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store made before key slots opens unchanged with its passphrase, lists one slot, and
    gets more."""
    import shutil
    store = tmp_path / "store"
    shutil.copytree(DATA / "store-3ee906e" / "store", store)
    (store / "tmp").mkdir(exist_ok=True)
    config = store / "arkeep.toml"
    config.write_text(config.read_text().replace("/tmp/golden/replica", str(tmp_path / "gone")))
    monkeypatch.setenv("ARKEEP_STORE", str(store))
    monkeypatch.setenv("ARKEEP_PASSPHRASE", "correct horse battery staple")
    before = (store / "key.toml").read_bytes()
    listed = cli("key", "list", "--json")
    assert listed.code == 0, listed.err
    assert [s["name"] for s in json.loads(listed.out)["slots"]] == ["owner"]
    assert (store / "key.toml").read_bytes() == before
    assert cli("key", "add", "bob", "--new-passphrase-file", passphrase_file(tmp_path, "b", BOB)).code == 0
    monkeypatch.setenv("ARKEEP_PASSPHRASE", BOB)
    assert cli("show", "Acme Golden@1.0", "--reveal").code == 0
