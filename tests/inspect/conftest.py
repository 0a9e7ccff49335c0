"""Real installers made by real tools, once per session: an NSIS installer (makensis), the same
installer Authenticode-signed (osslsigncode), an MSI (wixl), an ISO (genisoimage) and a Debian
package (apt-get download). scripts/test installs the tools; a missing tool or a failed
download fails the test that needs it with a message saying so, never silently."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

NSIS_SCRIPT = """\
Name "Fabrikam Paint"
OutFile "{out}"
Unicode true
RequestExecutionLevel user
VIProductVersion "7.5.0.1210"
VIAddVersionKey /LANG=1033 "ProductName" "Fabrikam Paint"
VIAddVersionKey /LANG=1033 "CompanyName" "Fabrikam, Inc."
VIAddVersionKey /LANG=1033 "ProductVersion" "7.5.0.1210"
VIAddVersionKey /LANG=1033 "FileVersion" "7.5.0.1210"
VIAddVersionKey /LANG=1033 "FileDescription" "Fabrikam Paint Setup"
VIAddVersionKey /LANG=1033 "LegalCopyright" "(c) Fabrikam, Inc."
Section
  SetOutPath $INSTDIR
  File "{payload}"
SectionEnd
"""

WXS = """\
<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Contoso Ledger" Version="4.2.1" Manufacturer="Contoso Ltd." Language="1033"
           UpgradeCode="6F1A2B3C-4D5E-4F60-8172-93A4B5C6D7E8">
    <Package InstallerVersion="200" Compressed="yes" Description="Contoso Ledger installer"/>
    <Media Id="1" Cabinet="ledger.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="Contoso Ledger">
          <Component Id="Readme" Guid="2B7C1D9E-5A40-4C3B-9E21-7F3D8A6B5C41" Win64="yes">
            <File Id="ReadmeTxt" Source="{payload}"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1"><ComponentRef Id="Readme"/></Feature>
  </Product>
</Wix>
"""


def need(command: str, package: str) -> str:
    path = shutil.which(command)
    if path is None:
        pytest.fail(f"{command} is not installed: install the Debian package {package} "
                    "(scripts/test does it)", pytrace=False)
    return path


def run(args: list[str], cwd: Path, what: str) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}",
                    pytrace=False)


@pytest.fixture(scope="session")
def tools_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inspect-fixtures")


@pytest.fixture(scope="session")
def nsis_exe(tools_dir: Path) -> Path:
    makensis = need("makensis", "nsis")
    work = tools_dir / "nsis"
    work.mkdir()
    (work / "readme.txt").write_text("Fabrikam Paint\n")
    (work / "paint.nsi").write_text(NSIS_SCRIPT.format(out="FabrikamPaintSetup.exe",
                                                       payload="readme.txt"))
    run([makensis, "-V1", "paint.nsi"], work, "makensis")
    return work / "FabrikamPaintSetup.exe"


@pytest.fixture(scope="session")
def signed_exe(tools_dir: Path, nsis_exe: Path) -> Path:
    """The NSIS installer signed with a throw-away certificate for 'Fabrikam, Inc.'."""
    signer = need("osslsigncode", "osslsigncode")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    work = tools_dir / "signed"
    work.mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fabrikam Code Signing"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fabrikam, Inc.")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(0x5EED1234)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .sign(key, hashes.SHA256()))
    (work / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (work / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                     serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    out = work / "FabrikamPaintSetup-signed.exe"
    run([signer, "sign", "-certs", "cert.pem", "-key", "key.pem", "-n", "Fabrikam Paint",
         "-in", str(nsis_exe), "-out", str(out)], work, "osslsigncode sign")
    return out


@pytest.fixture(scope="session")
def msi_file(tools_dir: Path) -> Path:
    wixl = need("wixl", "wixl")
    work = tools_dir / "msi"
    work.mkdir()
    (work / "readme.txt").write_text("Contoso Ledger\n")
    (work / "ledger.wxs").write_text(WXS.format(payload="readme.txt"))
    run([wixl, "-a", "x64", "-o", "ContosoLedger-4.2.1-x64.msi", "ledger.wxs"], work, "wixl")
    return work / "ContosoLedger-4.2.1-x64.msi"


@pytest.fixture(scope="session")
def deb_file(tools_dir: Path) -> Path:
    """GNU hello from the Debian archive; fails plainly when the archive cannot be reached."""
    need("apt-get", "apt")
    work = tools_dir / "deb"
    work.mkdir()
    def download() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["apt-get", "download", "hello"], cwd=work, capture_output=True,
                              text=True, timeout=300, check=False)

    done = download()
    if done.returncode != 0 and "locate package" in done.stderr:
        # Package lists never fetched on this machine: fetch them once, then try again.
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=300, check=False)
        done = download()
    debs = sorted(work.glob("hello_*.deb"))
    if done.returncode != 0 or not debs:
        pytest.fail("`apt-get download hello` failed: these tests need a real .deb from the "
                    "Debian archive (network access and `apt-get update`):\n"
                    + (done.stderr or done.stdout).strip()[-600:], pytrace=False)
    return debs[0]


@pytest.fixture(scope="session")
def iso_file(tools_dir: Path, msi_file: Path, nsis_exe: Path) -> Path:
    genisoimage = need("genisoimage", "genisoimage")
    work = tools_dir / "iso"
    root = work / "root"
    (root / "SETUP").mkdir(parents=True)
    shutil.copy(msi_file, root / "SETUP" / msi_file.name)
    (root / "autorun.inf").write_text("[autorun]\r\nopen=SETUP\\setup.exe\r\nlabel=Contoso Ledger 4.2\r\n")
    (root / "README.TXT").write_text("Contoso Ledger 4.2\n")
    out = work / "CONTOSO_LEDGER_42.iso"
    run([genisoimage, "-quiet", "-V", "CONTOSO_LEDGER_42", "-publisher", "Contoso Ltd.",
         "-A", "Contoso Ledger Setup", "-J", "-r", "-o", str(out), str(root)], work, "genisoimage")
    return out


@pytest.fixture(scope="session")
def mixed_iso(tools_dir: Path, msi_file: Path, nsis_exe: Path) -> Path:
    """A disc with two different products on it."""
    genisoimage = need("genisoimage", "genisoimage")
    work = tools_dir / "mixed"
    root = work / "root"
    root.mkdir(parents=True)
    shutil.copy(msi_file, root / msi_file.name)
    shutil.copy(nsis_exe, root / nsis_exe.name)
    out = work / "BUNDLE.iso"
    run([genisoimage, "-quiet", "-V", "OFFICE_BUNDLE", "-o", str(out), str(root)], work, "genisoimage")
    return out


@pytest.fixture
def copy_of(tmp_path: Path):
    """copy_of(path, name=None, size=None): a copy in tmp_path, optionally cut to `size` bytes."""
    def make(path: Path, name: str | None = None, size: int | None = None) -> Path:
        target = tmp_path / (name or path.name)
        data = path.read_bytes()
        target.write_bytes(data if size is None else data[:size])
        return target
    return make
