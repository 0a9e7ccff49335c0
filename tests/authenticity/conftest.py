"""Signed Windows programs for the authenticity tests: the real `python.exe` signed by the Python
Software Foundation (tests/data/authenticode), and the same program with its signature removed
and signed again by osslsigncode with a throw-away chain made here (root, intermediate, signer),
so that the tests know every certificate and can make a root trusted or not."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).parent.parent / "data" / "authenticode"
PYTHON_EXE = DATA / "python-3.13.2-amd64.exe"


def osslsigncode() -> str:
    path = shutil.which("osslsigncode")
    if path is None:
        pytest.fail("osslsigncode is not installed: install the Debian package osslsigncode "
                    "(scripts/test does it)", pytrace=False)
    return path


def run(args: list[str], cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"{args[:2]} failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}",
                    pytrace=False)


@dataclass(frozen=True)
class SigningChain:
    root_pem: Path          # the root alone: a trust anchor file
    certs_pem: Path         # signer then intermediate, as osslsigncode -certs wants them
    key_pem: Path


def make_chain(work: Path, signer_days: tuple[int, int] = (-1, 30)) -> SigningChain:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fabrikam, Inc.")])

    def cert(subject: str, issuer: str, key, issuer_key, ca: bool, days=(-1, 3650), serial=1):
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
             .public_key(key.public_key()).serial_number(serial)
             .not_valid_before(now + dt.timedelta(days=days[0]))
             .not_valid_after(now + dt.timedelta(days=days[1]))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                                critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]
    root = cert("Fabrikam Test Root", "Fabrikam Test Root", keys[0], keys[0], True, serial=10)
    inter = cert("Fabrikam Test Code Signing CA", "Fabrikam Test Root", keys[1], keys[0], True,
                 serial=11)
    leaf = cert("Fabrikam Code Signing", "Fabrikam Test Code Signing CA", keys[2], keys[1], False,
                days=signer_days, serial=12)
    pem = serialization.Encoding.PEM
    work.mkdir(parents=True, exist_ok=True)
    (work / "root.pem").write_bytes(root.public_bytes(pem))
    (work / "certs.pem").write_bytes(leaf.public_bytes(pem) + inter.public_bytes(pem))
    (work / "key.pem").write_bytes(keys[2].private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return SigningChain(work / "root.pem", work / "certs.pem", work / "key.pem")


def sign(unsigned: Path, chain: SigningChain, out: Path, *extra: str) -> Path:
    run([osslsigncode(), "sign", "-certs", str(chain.certs_pem), "-key", str(chain.key_pem),
         "-n", "Fabrikam Paint", "-h", "sha256", *extra, "-in", str(unsigned), "-out", str(out)],
        out.parent)
    return out


@pytest.fixture(scope="session")
def signing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("authenticode")


@pytest.fixture(scope="session")
def unsigned_exe(signing_dir: Path) -> Path:
    out = signing_dir / "unsigned.exe"
    run([osslsigncode(), "remove-signature", "-in", str(PYTHON_EXE), "-out", str(out)], signing_dir)
    return out


@pytest.fixture(scope="session")
def test_chain(signing_dir: Path) -> SigningChain:
    return make_chain(signing_dir / "chain")


@pytest.fixture(scope="session")
def test_signed_exe(signing_dir: Path, unsigned_exe: Path, test_chain: SigningChain) -> Path:
    return sign(unsigned_exe, test_chain, signing_dir / "fabrikam-signed.exe")


def flipped(path: Path, offset: int, target: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    target.write_bytes(bytes(data))
    return target
