"""macOS installer packages (.pkg): a xar archive with an XML table of contents.

Read: from a product archive's `Distribution` the title, product id and version, the
component packages' versions and the host architectures; from a component's `PackageInfo`
the identifier, version and app bundle; the signer from the certificate in the TOC.
"""
from __future__ import annotations

import bz2
import zlib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from archive.intake.inspect.reading import Reading, Unreadable

MAX_TOC = 16 * 1024 * 1024
MAX_MEMBER = 4 * 1024 * 1024


def read(path: Path, r: Reading) -> None:
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        header = f.read(28)
        if len(header) < 28:
            raise Unreadable("truncated: the xar header is cut short")
        header_size = int.from_bytes(header[4:6], "big")
        toc_packed = int.from_bytes(header[8:16], "big")
        toc_size = int.from_bytes(header[16:24], "big")
        if toc_size > MAX_TOC or toc_packed > MAX_TOC:
            raise Unreadable("the xar table of contents is implausibly large; the file is damaged")
        if header_size + toc_packed > size:
            raise Unreadable(f"truncated: the xar table of contents should end at byte "
                             f"{header_size + toc_packed:,} but the file has only {size:,} bytes")
        f.seek(header_size)
        try:
            toc_xml = zlib.decompress(f.read(toc_packed), bufsize=toc_size or 16384)
        except zlib.error:
            raise Unreadable("the xar table of contents cannot be decompressed; the file is "
                             "damaged") from None
        try:
            toc = ElementTree.fromstring(toc_xml)
        except ElementTree.ParseError as exc:
            raise Unreadable(f"the xar table of contents is not valid XML ({exc})") from None
        heap = header_size + toc_packed
        files = {name: node for name, node in _files(toc.find("toc"))}
        r.format, r.label = "xar", "xar archive"
        if "Distribution" in files:
            r.format, r.label = "pkg", "macOS installer package (product archive)"
            _distribution(_member(f, heap, size, files["Distribution"]), r)
        infos = [n for n in files if n == "PackageInfo" or n.endswith("/PackageInfo")]
        if infos:
            if r.format != "pkg":
                r.format, r.label = "pkg", "macOS installer package (component)"
            _package_info(_member(f, heap, size, files[infos[0]]), infos[0], r)
        if r.format != "pkg":
            r.note("this xar archive has no Distribution or PackageInfo: it is not an installer "
                   "package arkeep can read")
            return
    _signer(toc, r)


def _files(node: Any, prefix: str = ""):  # type: ignore[no-untyped-def]
    if node is None:
        return
    for child in node.findall("file"):
        name = prefix + (child.findtext("name") or "")
        yield name, child
        yield from _files(child, name + "/")


def _member(f: Any, heap: int, size: int, node: Any) -> bytes:
    data = node.find("data")
    if data is None:
        raise Unreadable(f"the package's {node.findtext('name')} has no data")
    try:
        offset = int(data.findtext("offset") or "")
        length = int(data.findtext("length") or "")
    except ValueError:
        raise Unreadable("the xar table of contents has a damaged entry") from None
    if length > MAX_MEMBER:
        raise Unreadable(f"the package's {node.findtext('name')} is implausibly large")
    if heap + offset + length > size:
        raise Unreadable("truncated: a file of the package lies past the end of the file")
    f.seek(heap + offset)
    blob = f.read(length)
    style = (data.find("encoding").get("style", "") if data.find("encoding") is not None else "")
    try:
        if "gzip" in style:
            return zlib.decompress(blob)
        if "bzip2" in style:
            return bz2.decompress(blob)
    except (zlib.error, OSError, ValueError):
        raise Unreadable(f"the package's {node.findtext('name')} cannot be decompressed") from None
    return blob


def _xml(blob: bytes, what: str) -> Any:
    try:
        return ElementTree.fromstring(blob)
    except ElementTree.ParseError as exc:
        raise Unreadable(f"the package's {what} is not valid XML ({exc})") from None


def _distribution(blob: bytes, r: Reading) -> None:
    root = _xml(blob, "Distribution")
    title = (root.findtext("title") or "").strip()
    if title and title.isupper() and " " not in title:
        r.note(f"the Distribution's title is a localisation key ({title}), not a name")
    else:
        r.set("product", title, "pkg Distribution: title")
    product = root.find("product")
    if product is not None:
        r.set("version", product.get("version"), "pkg Distribution: product version")
        r.set("identifier", product.get("id"), "pkg Distribution: product id")
    refs = [p for p in root.iter("pkg-ref") if p.get("version")]
    if refs:
        r.set("version", refs[0].get("version"),
              f"pkg Distribution: version of the first component package ({refs[0].get('id')})")
        r.set("identifier", refs[0].get("id"), "pkg Distribution: first component package id")
    options = root.find("options")
    archs = options.get("hostArchitectures") if options is not None else None
    r.set("platform", "macos", "pkg: a macOS installer package")
    if archs:
        r.set("architecture", archs.replace(",", ", "), "pkg Distribution: hostArchitectures")
    else:
        r.note("the Distribution does not list host architectures")


def _package_info(blob: bytes, name: str, r: Reading) -> None:
    root = _xml(blob, "PackageInfo")
    r.set("identifier", root.get("identifier"), f"pkg {name}: identifier")
    r.set("version", root.get("version"), f"pkg {name}: version")
    bundle = root.find(".//bundle")
    if bundle is not None:
        app = (bundle.get("path") or "").rstrip("/").rsplit("/", 1)[-1]
        if app.endswith(".app"):
            r.set("product", app[:-4], f"pkg {name}: the app bundle's name")
        r.set("version", bundle.get("CFBundleShortVersionString"),
              f"pkg {name}: bundle CFBundleShortVersionString")
    r.set("platform", "macos", "pkg: a macOS installer package")


def _signer(toc: Any, r: Reading) -> None:
    import base64

    cert_text = None
    for el in toc.iter():
        if el.tag.endswith("X509Certificate") and (el.text or "").strip():
            cert_text = el.text
            break
    if cert_text is None:
        r.note("the package is not signed")
        return
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        cert = x509.load_der_x509_certificate(base64.b64decode("".join(cert_text.split())))
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    except Exception:  # noqa: BLE001
        r.note("the package's signing certificate could not be read")
        return
    if cn:
        r.set("signer", cn[0].value, "pkg signature: signing certificate subject (not verified)")
    if org:
        r.set("vendor", org[0].value, "pkg signature: signing certificate organisation (O)")
