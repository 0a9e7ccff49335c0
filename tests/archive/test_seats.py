"""Seats (issue 18, item 3): assign, unassign, activation events, handover; due counts them."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from manifests.codec import parse_license
from tests.archive.replication_support import KEY, PRODUCT, add_sample, make_sample


def licence_file(store_dir: Path) -> Path:
    (path,) = (store_dir / "manifests" / "licenses").glob("*.toml")
    return path


def test_handover_lists_a_departing_persons_seats_and_what_to_deactivate(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    sample = make_sample(tmp_path)
    assert cli("add", sample.installer, "--product", PRODUCT, "--version", "7.5.1",
               "--key-file", sample.key_file, "--seats", "2").code == 0
    done = cli("assign", sample.rid, "--to", "alice", "--machine", "alice-laptop", "--on", "2026-01-05")
    assert done.code == 0, done.err
    assert cli("assign", sample.rid, "--to", "alice", "--machine", "alice-laptop", "--activated",
               "--on", "2026-01-06").code == 0
    assert cli("assign", sample.rid, "--to", "Bob", "--machine", "desk-2").code == 0
    assert cli("assign", sample.rid, "--to", "alice", "--machine", "studio-pc", "--key-index", "0").code == 0

    handover = cli("handover", "alice")
    assert handover.code == 0, handover.err
    assert "alice holds 2 seat(s)" in handover.out
    assert "on alice-laptop" in handover.out and "ACTIVATED 2026-01-06: deactivate it" in handover.out
    assert "on studio-pc, key 0" in handover.out and "1 must be deactivated" in handover.out
    as_json = json.loads(cli("handover", "ALICE", "--json").out)
    assert sorted(s["machine"] for s in as_json["seats"]) == ["alice-laptop", "studio-pc"]
    assert [s["machine"] for s in as_json["to_deactivate"]] == ["alice-laptop"]
    assert KEY not in handover.out + json.dumps(as_json)

    due = cli("due", "--json")
    seats = json.loads(due.out)["seats"]
    assert seats and (seats[0]["in_use"], seats[0]["owned"]) == (3, 2), seats
    assert due.code == 1                      # more seats in use than owned
    status = cli("status", "--json")
    assert [(x["owned"], x["in_use"]) for x in json.loads(status.out)["seats"]] == [(2, 3)]
    assert "seats: Acme Studio: 3 of 2 in use" in cli("status").err
    ended = cli("unassign", sample.rid, "--from", "alice", "--machine", "alice-laptop")
    assert ended.code == 0 and "deactivate it there" in ended.err, ended.err
    assert json.loads(cli("due", "--json").out)["seats"][0]["in_use"] == 2
    assert [s["machine"] for s in json.loads(cli("handover", "alice", "--json").out)["seats"]] == ["studio-pc"]
    assert "bob holds 1 seat" in cli("handover", "bob").out
    assert "nobody holds no seat" in cli("handover", "nobody").out

    # The record keeps the history, reads with the schema of before, and holds no key in clear.
    path = licence_file(store_dir)
    assert parse_license(path.read_bytes(), str(path)).id == as_json["seats"][0]["license_id"]
    table = tomllib.loads(path.read_text())
    history = table["extra"]["assignments"]
    assert [a["person"] for a in history] == ["alice", "Bob", "alice"]
    assert history[0]["until"] and "activated" in " ".join(history[0]["events"])
    assert KEY not in path.read_text()
    assert cli("verify").code == 0


def test_seat_mistakes_are_clear_errors_and_change_nothing(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path) -> None:
    sample = add_sample(cli, tmp_path)
    plain = make_sample(tmp_path, version="8.0")
    assert cli("add", plain.installer, "--product", "Bare", "--version", "8.0").code == 0
    assert cli("assign", sample.rid, "--to", "alice").code == 0
    before = licence_file(store_dir).read_bytes()
    cases = [(["assign", sample.rid, "--to", "alice"], "already holds a seat"),
             (["assign", "nothing@1", "--to", "x"], "nothing@1"),
             (["assign", "Bare@8.0", "--to", "x"], "no licence record"),
             (["assign", sample.rid, "--to", "x", "--key-index", "5"], "--key-index 5"),
             (["assign", sample.rid, "--to", "  "], "--to"),
             (["assign", sample.rid, "--to", "x", "--license", "lic-nothing"], "not linked"),
             (["unassign", sample.rid, "--from", "carol"], "carol holds no seat")]
    for args, message in cases:
        result = cli(*args)
        assert result.code == 2 and message in result.err, (args, result.err)
    with pytest.raises(SystemExit) as exited:         # argparse: usage, exit 2
        cli("assign", sample.rid, "--to", "x", "--on", "yesterday")
    assert exited.value.code == 2
    assert licence_file(store_dir).read_bytes() == before
