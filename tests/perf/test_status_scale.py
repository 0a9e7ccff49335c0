"""`status` over many releases (archive/ops/status.py): answered from the catalog index and one
ledger query, it must say exactly what reading every manifest and asking the ledger once per
unit says. Correctness only: speed is measured with the commands in docs/BENCHMARKS.md."""
from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.storage.hashing import hash_bytes
from archive.replicate.ledger import BAD, MISSING, PRESENT, Ledger
from archive.ops.status import Policy, ReleaseStatus, copies_by_remote, release_refs, status
from archive.ops.verdict import NO_INSTALLER
from archive.replicate.remotes import RemoteSpec
from archive.storage.store import Store
from manifests.codec import release_to_toml
from manifests.errors import ManifestInvalid
from manifests.model import Artifact, Release, release_id

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEFAULT_POLICY = Policy()
REMOTES = {"nas": RemoteSpec("nas", "/nas", "dir"),
           "cloud": RemoteSpec("cloud", "/cloud", "dir", offsite=True),
           "usb": RemoteSpec("usb", "/usb", "dir")}


def reference_status(store: Store, ledger: Ledger, remotes: dict[str, RemoteSpec],
                     policy: Policy, now: datetime) -> list[ReleaseStatus]:
    """What status said when it read every manifest and asked the ledger once per unit."""
    stale_before = now - timedelta(days=policy.max_verify_age_days)
    results = []
    for release in store.catalog.search(None):
        st = ReleaseStatus(release.id, release.title)
        refs = release_refs(release)
        for remote, copies in sorted(copies_by_remote(ledger, refs).items()):
            if remote not in remotes:
                continue
            if any(c.state == BAD for c in copies.values()):
                st.problems.append(f"a copy on {remote} is known to be bad; run `arkeep repair`")
            if len(copies) == len(refs) and all(c.state == PRESENT for c in copies.values()):
                st.good_remotes.append(remote)
                oldest = min((c.verified_at for c in copies.values() if c.verified_at), default=None)
                if oldest is None or oldest < stale_before:
                    st.problems.append(policy.stale(remote, oldest))     # the wording's one home
        st.offsite_remotes = [r for r in st.good_remotes if remotes[r].offsite]
        st.problems += policy.shortfalls(len(st.good_remotes), len(st.offsite_remotes))
        missing = [a.filename for a in release.artifacts if not store.has_object(a.blake3)]
        if missing:
            st.problems.append(f"missing from the local store: {', '.join(missing)}")
        if not release.installers():
            st.blockers.append(NO_INSTALLER)
        for a in release.installers():
            held = copies_by_remote(ledger, [a.blake3])
            if not store.has_object(a.blake3) and not any(
                    remote in remotes and copies[a.blake3].state == PRESENT
                    for remote, copies in held.items()):
                st.blockers.append(f"{a.filename} is missing from the local store and no remote "
                                   "holds a copy")
        results.append(st)
    return results


def make_release(i: int, digests: list[str], licenses: tuple[str, ...] = ()) -> Release:
    product = f"Tool {i % 7}" if i % 5 else f"ünïcode Tool {i % 3}"
    version = f"{i // 7}.{i % 4}"
    return Release(id=release_id(product, version), product=product, version=version,
                   created=NOW, licenses=licenses,
                   artifacts=tuple(Artifact(role="installer", filename=f"f{i}-{n}.exe", size=10 + n,
                                            blake3=d) for n, d in enumerate(digests)))


@pytest.fixture
def busy_store(store_dir: Path) -> Store:
    """120 releases sharing 9 objects (one missing locally), some with licences or a repeated
    object, and a ledger with every kind of copy: present, bad, missing, verified long ago,
    never verified, two units for one ref, and copies on a remote no longer configured."""
    store = Store.open(store_dir)
    digests = []
    for n in range(9):
        data = f"object {n}".encode()
        digest = hash_bytes(data)
        digests.append(digest)
        if n != 4:
            path = store.object_path(digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    releases = []
    for i in range(120):
        arts = [digests[i % 9], digests[(i * 5) % 9]] if i % 3 else [digests[i % 9]]
        if i % 17 == 0:
            arts.append(arts[0])                       # the same object twice in one release
        lics = (f"lic-{i:010x}",) if i % 4 == 0 else ()
        release = make_release(i, arts, lics)
        store.catalog.write_release(release)
        releases.append(release)
    with Ledger(store_dir / "state" / "ledger.sqlite") as ledger:
        for n, digest in enumerate(digests):
            ledger.record("nas", f"nas-{n}", "object", digest, BAD if n == 2 else PRESENT, 1,
                          verified_how="written", when=NOW - timedelta(days=1))
            if n != 3:
                ledger.record("cloud", f"cloud-{n}", "object", digest, PRESENT, 1,
                              verified_how="written", when=NOW - timedelta(days=2))
            ledger.record("usb", f"usb-{n}", "object", digest, PRESENT, 1)    # never verified
            ledger.record("old", f"old-{n}", "object", digest, PRESENT, 1, verified_how="read")
        for i, release in enumerate(releases):
            for j, ref in enumerate(release_refs(release)[len(release.artifacts):]):
                for k, remote in enumerate(("nas", "cloud", "usb", "old")):
                    pick = (i * 3 + j * 5 + k * 11) % 23
                    if i % 10 == 0 and remote == "usb":
                        pick = 4                        # complete there, never verified
                    if pick == 0:
                        continue                        # no copy there
                    state = BAD if pick == 1 else MISSING if pick == 2 else PRESENT
                    when = NOW - timedelta(days=200 if pick == 3 else 1 + pick % 4)
                    how = None if pick == 4 else "written"
                    ledger.record(remote, f"{remote}-{ref}", "release", ref, state, 1,
                                  verified_how=how, when=when)
                    if pick == 5:                       # a second unit for the same ref: later wins
                        ledger.record(remote, f"{remote}-{ref}-again", "release", ref,
                                      BAD if i % 2 else PRESENT, 1, verified_how="read",
                                      when=when - timedelta(days=300))
    return store


def both(store: Store, remotes: dict[str, RemoteSpec] = REMOTES,
         policy: Policy = DEFAULT_POLICY) -> tuple[list[ReleaseStatus], list[ReleaseStatus]]:
    with Ledger(store.root / "state" / "ledger.sqlite") as ledger:
        results, _ = status(store, ledger, remotes, policy, now=NOW)
        return results, reference_status(store, ledger, remotes, policy, NOW)


def test_status_says_what_reading_every_manifest_says(busy_store: Store) -> None:
    results, expected = both(busy_store)
    assert len(results) == 120
    assert results == expected
    # The fixture reaches every branch of the policy.
    problems = " ".join(p for r in results for p in r.problems)
    for phrase in ("known to be bad", "last verified never", "last verified 2026-05-09",
                   "missing from the local store", "offsite copies", "remote copies"):
        assert phrase in problems
    assert any(r.ok for r in results) and any(r.good_remotes == ["cloud", "nas", "usb"] for r in results)
    assert not any(r.blockers for r in results)     # the one missing object is on a remote


def test_blockers_agree(busy_store: Store) -> None:
    """Without a remote that holds the object missing locally, the releases that need it
    cannot be restored; both ways of computing it say which. A never-verified copy still
    counts as a copy."""
    results, expected = both(busy_store, {})
    assert results == expected
    assert any(r.blockers for r in results) and any(not r.blockers for r in results)
    results, expected = both(busy_store, {"usb": REMOTES["usb"]})
    assert results == expected and not any(r.blockers for r in results)


def test_other_remotes_and_policies_agree_too(busy_store: Store) -> None:
    for remotes in ({}, {"usb": REMOTES["usb"]}, {"old": RemoteSpec("old", "/old", "dir", offsite=True)}):
        for policy in (Policy(), Policy(min_remotes=1, min_offsite=0, max_verify_age_days=3)):
            results, expected = both(busy_store, remotes, policy)
            assert results == expected


def test_a_manifest_edited_in_place_counts_at_once(busy_store: Store) -> None:
    """The index answers status only after its full check: an edit that leaves the directory
    untouched (same file, same inode) shows in the next status."""
    both(busy_store)
    rid = next(r.id for r in busy_store.catalog.search(None) if len(r.artifacts) == 1)
    path = busy_store.catalog.release_path(rid)
    release = busy_store.catalog.load_release(rid)
    missing = hash_bytes(b"object 4")
    text = release_to_toml(replace(release, artifacts=(replace(release.artifacts[0], blake3=missing,
                                                               filename="edited.exe"),)))
    st = os.stat(path)
    with open(path, "r+", encoding="utf-8") as f:
        f.write(text)
        f.truncate()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    results, expected = both(busy_store)
    assert results == expected
    mine = next(r for r in results if r.release == rid)
    assert "missing from the local store: edited.exe" in mine.problems


def test_a_damaged_manifest_raises_as_before(busy_store: Store) -> None:
    both(busy_store)
    rid = busy_store.catalog.search(None)[3].id
    busy_store.catalog.release_path(rid).write_text("schema = 1\nkind = 'release'\n")
    with Ledger(busy_store.root / "state" / "ledger.sqlite") as ledger:
        with pytest.raises(ManifestInvalid) as got:
            status(busy_store, ledger, REMOTES, Policy(), now=NOW)
        with pytest.raises(ManifestInvalid) as expected:
            reference_status(busy_store, ledger, REMOTES, Policy(), NOW)
    assert str(got.value) == str(expected.value)
