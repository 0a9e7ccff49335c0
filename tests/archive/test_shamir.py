"""Recovery shares (issue 18, item 2): Shamir's secret sharing in the form of Debian's `ssss`,
checked both ways against the real `ssss-split` and `ssss-combine`, and `key split` / `key join`."""
from __future__ import annotations

import itertools
import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from archive.crypto import heirs, keys, shamir
from archive.crypto.keyring import Keyring
from archive.errors import UsageError
from tests.conftest import PASSPHRASE

CODE = b"AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT"        # the recovery code of bytes(range(20))
RAND = bytes(range(100, 178))                              # two fixed 39-byte coefficients
# Share 2 of 5 (3 needed) of CODE with RAND as the coefficients, as this module made it and
# ssss 0.5's ssss-combine recovers it (below): a change to the field, the arithmetic, the
# diffusion or the printed form breaks it, whether or not ssss is installed.
GOLDEN_SHARE_2 = ("t-2-17605ed3179d29a3a7a08f25e7bfd2ffa033550478eb9b666e5f12f9decd84ccc80ace"
                  "ec33c2cc")

BASH = shutil.which("bash") or "/bin/bash"
needs_ssss = pytest.mark.skipif(shutil.which("ssss-combine") is None,
                                reason="ssss (Debian package) is not installed")


def ssss_combine(lines: list[str], threshold: int, *flags: str) -> str:
    """What ssss-combine prints as the secret (Debian's build writes it on stderr)."""
    done = subprocess.run(["ssss-combine", "-t", str(threshold), "-Q", *flags],
                          input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return (done.stdout + done.stderr).strip()


def ssss_split(secret: str, threshold: int, count: int, *flags: str) -> list[str]:
    done = subprocess.run(["ssss-split", "-t", str(threshold), "-n", str(count), "-Q", *flags],
                          input=secret + "\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_field_is_the_published_one_for_8_bits_and_irreducible_for_the_code() -> None:
    assert shamir.modulus(8) == 0x11B            # x^8 + x^4 + x^3 + x + 1, AES's polynomial
    m = shamir.modulus(312)
    assert m.bit_length() == 313 and bin(m).count("1") == 5 and shamir.is_irreducible(m)
    assert not shamir.is_irreducible((1 << 8) | 1)     # x^8 + 1 = (x + 1)^8


def test_fixed_coefficients_give_fixed_shares_that_ssss_combine_reads() -> None:
    shares = shamir.split(CODE, 3, 5, token="t", rand=RAND)
    again = shamir.split(CODE, 3, 5, token="t", rand=RAND)
    assert [s.text() for s in shares] == [s.text() for s in again]
    assert shares[1].text() == GOLDEN_SHARE_2
    assert all(re.fullmatch(r"t-[1-5]-[0-9a-f]{78}", s.text()) for s in shares)
    if shutil.which("ssss-combine"):
        for trio in itertools.combinations(shares, 3):
            assert ssss_combine([s.text() for s in trio], 3) == CODE.decode()


@needs_ssss
@pytest.mark.parametrize("diffusion", [True, False])
def test_ssss_combine_recovers_what_we_split_and_we_recover_what_ssss_split_made(diffusion: bool) -> None:
    flags = () if diffusion else ("-D",)
    ours = [s.text() for s in shamir.split(CODE, 3, 5, token="arkeep", diffusion=diffusion)]
    assert ssss_combine([ours[4], ours[0], ours[2]], 3, *flags) == CODE.decode()
    theirs = ssss_split(CODE.decode(), 3, 5, "-w", "tok", *flags)
    for trio in itertools.combinations(theirs, 3):
        parsed = [shamir.parse_share(line) for line in trio]
        assert shamir.combine(parsed, 3, diffusion=diffusion) == CODE


@needs_ssss
def test_other_widths_agree_with_ssss_too() -> None:
    """Secrets of 8, 56 (no diffusion below 64 bits), 64 and 160 bits, and 12 shares (two-digit
    numbers)."""
    for secret in ("A", "abcdefg", "abcdefgh", "twenty characters!!!"):
        ours = [s.text(2) for s in shamir.split(secret.encode(), 2, 12)]
        assert ours[0].startswith("01-")
        assert ssss_combine([ours[11], ours[3]], 2) == secret
        theirs = ssss_split(secret, 2, 12)
        assert shamir.combine([shamir.parse_share(x) for x in theirs[5:7]], 2) == secret.encode()


def test_any_k_shares_recover_and_k_minus_1_do_not() -> None:
    shares = shamir.split(CODE, 3, 5)
    for trio in itertools.permutations(shares, 3):
        assert shamir.combine(list(trio), 3) == CODE
    for pair in itertools.combinations(shares, 2):
        assert shamir.combine(list(pair), 2) != CODE
        with pytest.raises(UsageError, match="2 share.s. given; 3 are needed"):
            shamir.combine(list(pair), 3)


def test_two_shares_of_a_3_of_5_set_are_consistent_with_every_secret() -> None:
    """What "K-1 reveal nothing" means, checked: for two shares and ANY candidate secret there
    is a polynomial of degree 2 through the candidate and both shares, so the shares cannot
    tell the candidates apart. (Interpolating the candidate at x=0 with the two shares gives a
    third share that, with them, recombines to the candidate.)"""
    shares = shamir.split(CODE, 3, 5)[:2]
    for candidate in (bytes(39), b"Z" * 39, CODE):
        s = int.from_bytes(shamir._diffuse(int.from_bytes(candidate, "big"), 312, True)
                           .to_bytes(39, "big"), "big")
        m = shamir.modulus(312)
        # Solve for c1, c2 with f(y) = s + c1 y + c2 y^2 + y^3 through both shares (x = 1, 2).
        ys = [sh.value ^ s ^ shamir._mul(shamir._mul(sh.index, sh.index, m), sh.index, m) for sh in shares]
        # [x x^2] [c1 c2]^T = y, for x = 1, 2: c1 + c2 = y1; 2c1 + 4c2 = y2.
        det = shamir._inverse(4 ^ 2, m)
        c2 = shamir._mul(ys[1] ^ shamir._mul(2, ys[0], m), det, m)
        c1 = ys[0] ^ c2
        x3 = 3
        third = s ^ shamir._mul(c1, x3, m) ^ shamir._mul(c2, shamir._mul(x3, x3, m), m) ^ \
            shamir._mul(shamir._mul(x3, x3, m), x3, m)
        made = [*shares, shamir.Share(3, third, 312)]
        assert shamir.combine(made, 3) == candidate


@pytest.mark.parametrize("bad", ["", "hello", "1", "x-1-zz", "1-abc", "0-abcd", "a-b-1-abcd",
                                 "1-" + "ab" * 129, "1-\u0661\u0662"])
def test_bad_share_lines_are_clear_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="share"):
        shamir.parse_share(bad)


def test_join_refuses_mixed_repeated_and_mistyped_shares() -> None:
    keyring = Keyring(bytes(range(20)))
    _, lines = heirs.split_keyring(keyring, 3, 5)
    _, other = heirs.split_keyring(keyring, 3, 5)
    assert heirs.join_shares([lines[1], lines[3], lines[4]]).key_id == keyring.key_id
    spaced = [" ".join(line[i:i + 7] for i in range(0, len(line), 7)) for line in lines[:3]]
    assert heirs.join_shares(spaced).key_id == keyring.key_id
    with pytest.raises(UsageError, match="needs 3"):
        heirs.join_shares(lines[:2])
    with pytest.raises(UsageError, match="not recover"):
        heirs.join_shares([lines[0], lines[1], other[2]])         # same token, another split
    with pytest.raises(UsageError, match="given twice"):
        heirs.join_shares([lines[0], lines[0], lines[1]])
    typo = lines[2][:-1] + ("0" if lines[2][-1] != "0" else "1")
    with pytest.raises(UsageError, match="not recover"):
        heirs.join_shares([lines[0], lines[1], typo])
    with pytest.raises(UsageError, match="different sets"):
        heirs.join_shares([lines[0], lines[1], lines[2].replace(".3of5", ".3of6")])
    with pytest.raises(UsageError, match="not to this store"):
        heirs.join_shares(lines[:3], key_id="0" * 16)
    bare = [line.split("-", 1)[1] for line in lines[:3]]
    with pytest.raises(UsageError, match="--threshold"):
        heirs.join_shares(bare)
    assert heirs.join_shares(bare, threshold=3).key_id == keyring.key_id
    with pytest.raises(UsageError, match="2 <= K <= N"):
        heirs.split_keyring(keyring, 1, 5)
    with pytest.raises(UsageError, match="2 <= K <= N"):
        heirs.split_keyring(keyring, 4, 3)


# -- the command line -----------------------------------------------------------------------

def share_line(sheet: Path) -> str:
    return next(line.strip() for line in sheet.read_text().splitlines()
                if line.strip().startswith("arkeep.") and " " not in line.strip())


def test_a_3_of_5_split_recovers_from_any_three_sheets_and_not_from_two(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, recovery_code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "sheets"
    made = cli("key", "split", "--shares", "5", "--threshold", "3", "--out", out, "--text",
               "--holder", "Ann", "--json")
    assert made.code == 0, made.err
    report = json.loads(made.out)
    sheets = [Path(p) for p in report["sheets"]]
    assert len(sheets) == 5 and report["threshold"] == 3
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in sheets)
    assert "Kept by: Ann" in sheets[0].read_text() and "Kept by" not in sheets[1].read_text()
    lines = [share_line(p) for p in sheets]
    for sheet in sheets:
        assert recovery_code not in sheet.read_text()
    assert recovery_code not in made.out + made.err

    for trio in itertools.combinations(range(5), 3):
        shares = tmp_path / f"shares-{''.join(map(str, trio))}.txt"
        shares.write_text("\n".join(lines[i] for i in trio) + "\n")
        joined = cli("key", "join", "--shares-file", shares)
        assert joined.code == 0, joined.err
        assert recovery_code in joined.out
    two = tmp_path / "two.txt"
    two.write_text(f"{lines[0]}\n{lines[3]}\n")
    refused = cli("key", "join", "--shares-file", two)
    assert refused.code == 2 and "2 share(s) given; this set needs 3" in refused.err
    assert recovery_code not in refused.out + refused.err
    forced = cli("key", "join", "--shares-file", two, "--threshold", "2")
    assert forced.code == 2 and "do not recover" in forced.err

    if shutil.which("ssss-combine"):
        assert ssss_combine([lines[4], lines[1], lines[2]], 3) == recovery_code
        assert ssss_combine([lines[4], lines[1]], 2) != recovery_code

    again = cli("key", "split", "--shares", "5", "--threshold", "3", "--out", out, "--text")
    assert again.code == 2 and "will not overwrite" in again.err


def test_an_heir_joins_and_gets_a_passphrase_of_their_own(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "SCRYPT_N", 2**10)
    out = tmp_path / "sheets"
    assert cli("key", "split", "--shares", "3", "--threshold", "2", "--out", out).code == 0
    pages = sorted(out.iterdir())
    assert [p.suffix for p in pages] == [".html"] * 3
    page = pages[0].read_text()
    assert "<svg" in page and "ssss-combine -t 2" in page and "arkeep key join" in page
    line = re.search(r"<pre>(arkeep\.[^<]+)</pre>", page).group(1)   # type: ignore[union-attr]
    second = re.search(r"<pre>(arkeep\.[^<]+)</pre>", pages[2].read_text()).group(1)  # type: ignore[union-attr]

    monkeypatch.delenv("ARKEEP_PASSPHRASE")
    heir_pass = tmp_path / "heir.txt"
    heir_pass.write_text("the heir's own passphrase, a long one\n")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(f"{line}\n{second}\n"))
    kit = tmp_path / "kit.txt"
    joined = cli("key", "join", "--name", "heir", "--new-passphrase-file", heir_pass,
                 "--recovery-kit", kit, "--json")
    assert joined.code == 0, joined.err
    assert json.loads(joined.out)["slot"] == "heir"
    monkeypatch.setenv("ARKEEP_PASSPHRASE", "the heir's own passphrase, a long one")
    listed = json.loads(cli("key", "list", "--json").out)["slots"]
    assert [s["name"] for s in listed if s["current"]] == ["heir"]
    monkeypatch.setenv("ARKEEP_PASSPHRASE", PASSPHRASE)
    assert cli("key", "list").code == 0
    assert kit.stat().st_mode & 0o077 == 0
    assert cli("key", "join", "--json").code == 2          # the code is printed on a terminal only


@needs_ssss
def test_docs_recovery_md_steps_recover_the_code_with_ssss_alone(  # type: ignore[no-untyped-def]
        cli, store_dir: Path, tmp_path: Path, recovery_code: str) -> None:
    """docs/RECOVERY.md "Recovery sheets": its block, run by bash with nothing but ssss-combine and
    tail on the PATH, prints the recovery code from three sheets of a 3-of-5 split."""
    from tests.archive.test_recovery_doc import block, filled

    out = tmp_path / "sheets"
    assert cli("key", "split", "--shares", "5", "--threshold", "3", "--out", out, "--text").code == 0
    lines = [share_line(p) for p in sorted(out.iterdir())]
    home = tmp_path / "heir"
    (home / "tools").mkdir(parents=True)
    for tool in ("ssss-combine", "tail"):
        (home / "tools" / tool).symlink_to(shutil.which(tool))  # type: ignore[arg-type]
    (home / "shares.txt").write_text(f"{lines[3]}\n{lines[0]}\n{lines[4]}\n")
    commands = filled(block("CODE=$(ssss-combine"), SHARES="shares.txt")
    done = subprocess.run([BASH, "--norc", "--noprofile", "-c", commands], cwd=home,
                          env={"PATH": str(home / "tools"), "HOME": str(home)},
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == recovery_code, done.stdout + done.stderr
    (home / "shares.txt").write_text(f"{lines[3]}\n{lines[0]}\n")
    done = subprocess.run([BASH, "--norc", "--noprofile", "-c", commands.replace("-t 3", "-t 2")],
                          cwd=home, env={"PATH": str(home / "tools"), "HOME": str(home)},
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() != recovery_code
