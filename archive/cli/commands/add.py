"""arkeep add"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from archive.cli.context import Context, read_secret_file
from archive.errors import UsageError
from archive.intake.download_request import DEFAULT_MAX_SIZE, DEFAULT_TIMEOUT

HELP = "archive installers with their licence files, invoices and key"
EXAMPLES = """examples:
  arkeep add Photoshop_13_LS16.exe --product "Adobe Photoshop CS6" --version 13.0 \\
      --edition Extended --platform windows-x64 --invoice order-2012.pdf --key-file key.txt
  printf '%s' "$KEY" | arkeep add hello_2.10-3_amd64.deb --product hello --version 2.10-3 --key-stdin
  arkeep add setup-x86.exe setup-x64.exe --product Foo --version 7.5 --license lic-0a1b2c3d4e
  arkeep add ContosoLedger-4.2.1-x64.msi      (product, version, vendor, platform read from the file)
  arkeep add https://example.com/dl/setup-7.5.exe --sha256 HEX --product Foo --version 7.5
      (downloaded, resumed if interrupted; the URL, time, validators and TLS certificate recorded)

arkeep reads the first installer (see `arkeep inspect`): product and version when not given,
and vendor and platform when not given, shows what it used and records in the manifest where
each value came from. Flags always win.
The licence key never goes on the command line: give it in a file or on standard input.
A Windows program's Authenticode signature is checked and recorded (see `arkeep show`); one that
does not match the file's bytes stops the add unless --accept-unverified is given.
"""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2012-05-07") from None


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("add", parents=[common], help=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Store each file once by its BLAKE3 digest and describe the release "
                                   "in a manifest that links the files to their licence record. "
                                   "Adding the same release again changes nothing.")
    p.add_argument("files", nargs="+", metavar="FILE|URL",
                   help="installer file(s), or http(s) URLs to download them from")
    p.add_argument("--product", help="product name, e.g. 'Adobe Photoshop CS6' "
                                      "(default: read from the first installer)")
    p.add_argument("--version", dest="release_version", metavar="VER",
                   help="the exact version, e.g. 13.0.1 (default: read from the first installer)")
    p.add_argument("--vendor")
    p.add_argument("--edition")
    p.add_argument("--platform", help="e.g. windows-x64, macos-arm64, linux-amd64")
    p.add_argument("--license-file", action="append", type=Path, default=[], metavar="F",
                   help="a licence file that proves the purchase (repeatable)")
    p.add_argument("--invoice", action="append", type=Path, default=[], metavar="F", help="(repeatable)")
    p.add_argument("--receipt", action="append", type=Path, default=[], metavar="F", help="(repeatable)")
    key = p.add_mutually_exclusive_group()
    key.add_argument("--key-file", type=Path, metavar="F", help="read the licence key from a file")
    key.add_argument("--key-stdin", action="store_true", help="read the licence key from standard input")
    p.add_argument("--license", dest="license_id", metavar="ID",
                   help="link to an existing licence record instead of creating one")
    g = p.add_argument_group("licence record details")
    g.add_argument("--license-kind",
                   choices=["serial", "account", "hardware-bound", "subscription", "licence-file",
                            "volume", "other"],
                   help="default: serial with a key, licence-file with only --license-file, "
                        "else other")
    g.add_argument("--licensed-to")
    g.add_argument("--email")
    g.add_argument("--company")
    g.add_argument("--seats", type=int)
    g.add_argument("--purchased", type=_date, metavar="YYYY-MM-DD")
    g.add_argument("--order-number")
    g.add_argument("--price", help="amount, e.g. 699.00, 12,50 or '89,90 €' (a sign or code sets the currency)")
    g.add_argument("--currency", help="ISO 4217 code, e.g. EUR")
    g.add_argument("--seller")
    g.add_argument("--expires", type=_date, metavar="YYYY-MM-DD")
    g.add_argument("--maintenance-end", type=_date, metavar="YYYY-MM-DD")
    g.add_argument("--activation-notes")
    g.add_argument("--source-url", help="where the installer was downloaded from")
    s = p.add_argument_group("signatures (Authenticode on Windows programs)")
    s.add_argument("--ca-file", action="append", type=Path, default=[], metavar="F",
                   help="trust the root certificates in F (PEM) besides the system's, for "
                        "signatures and for HTTPS downloads (repeatable)")
    s.add_argument("--signature", action="append", default=[], metavar="F|URL",
                   help="a detached OpenPGP signature (.asc, .sig) of the installer named like it "
                        "(found beside a local file without this flag)")
    s.add_argument("--openpgp-key", action="append", type=Path, default=[], metavar="F",
                   help="an OpenPGP public key (or keyring) trusted to sign (repeatable)")
    s.add_argument("--accept-unverified", action="store_true",
                   help="archive a program whose signature does not match its bytes (recorded)")
    d = p.add_argument_group("downloads (add URL)")
    d.add_argument("--sha256", metavar="HEX", help="the SHA-256 the vendor published; checked "
                                                   "before anything is archived")
    d.add_argument("--sha512", metavar="HEX", help="the SHA-512 the vendor published")
    d.add_argument("--checksums", metavar="F|URL",
                   help="a checksums file (SHA256SUMS, .sha256; a path or URL) naming the download")
    d.add_argument("--checksums-signature", metavar="F|URL",
                   help="the checksums file's detached OpenPGP signature (a clearsigned one "
                        "is checked without it), checked with --openpgp-key or trusted keys")
    d.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                   help="give up when the server is silent this long (default 30)")
    d.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE, metavar="BYTES",
                   help="refuse a download larger than this (default 64 GiB)")
    p.set_defaults(run=run)


def read_key(args: argparse.Namespace) -> str | None:
    if args.key_file is not None:
        return read_secret_file(args.key_file, "key file")
    if args.key_stdin:
        if sys.stdin.isatty():
            import getpass
            return getpass.getpass("Licence key: ") or None
        text = sys.stdin.read(64 * 1024 + 1)
        if len(text) > 64 * 1024:
            raise UsageError("the licence key on standard input is longer than 64 KiB")
        key = text.rstrip("\r\n")
        if not key:
            raise UsageError("standard input held no licence key")
        return key
    return None


def run(args: argparse.Namespace, ctx: Context) -> int:
    from contextlib import nullcontext

    from archive.intake.add import add_release
    from archive.intake.download_request import FetchOptions, is_url
    from archive.present.authenticity import data as authenticity_data
    from archive.present.authenticity import download_line, summary
    from archive.present.humanize import human_size

    store = ctx.open_store()
    key = read_key(args)
    urls = [f for f in args.files if is_url(f)]
    if (args.sha256 or args.sha512 or args.checksums) and not urls:
        raise UsageError("--sha256, --sha512 and --checksums check a download: give a URL")
    options = FetchOptions(ca_files=tuple(args.ca_file), timeout=args.timeout,
                           max_size=args.max_size, sha256=args.sha256, sha512=args.sha512,
                           checksums=args.checksums, checksums_signature=args.checksums_signature,
                           openpgp_keys=tuple(args.openpgp_key))
    # Licence files, invoices and receipts are kept encrypted at rest: they need the secret too.
    documents = args.license_file or args.invoice or args.receipt
    keyring = ctx.unlock(store) if key is not None or documents or args.license_id else None
    signature_urls = [s for s in args.signature if is_url(s)]
    if urls or signature_urls:
        from archive.intake.fetch import fetched, fetched_small
    with store.writing("arkeep add"), \
            (fetched(store, urls, options, ctx.file_bar) if urls else nullcontext([])) as got, \
            (fetched_small(store, signature_urls, options) if signature_urls
             else nullcontext([])) as signatures:
        ctx.close_bars()
        by_url = dict(zip(urls, got, strict=True))
        files = [by_url[f].path if f in by_url else Path(f) for f in args.files]
        request, detected = _request(args, ctx, store, key, files)
        request = replace(request, downloads={f.path: f for f in got},
                          signatures=(*[Path(s) for s in args.signature if not is_url(s)],
                                      *signatures))
        try:
            result = add_release(store, request, keyring, progress_for=ctx.file_bar)
        finally:
            ctx.close_bars()
    rel = result.release
    if ctx.json:
        ctx.emit_json({"release": rel.id, "created": result.created, "unchanged": result.unchanged,
                       "new_files": [a.filename for a in result.new_artifacts],
                       "new_objects": result.new_objects,
                       "license": result.license.id if result.license else None,
                       "detected": detected.get(files[0].name, {}),
                       "authenticity": {a.filename: authenticity_data(a.authenticity)
                                        for a in result.new_artifacts if a.authenticity},
                       "openpgp": {a.filename: authenticity_data(a.openpgp)
                                   for a in result.new_artifacts if a.openpgp}})
        return 0
    if result.unchanged:
        ctx.say(f"{rel.title} is already archived with these files; nothing changed ({rel.id}).")
        return 0
    verb = "Archived" if result.created else "Updated"
    ctx.say(f"{verb} {rel.title} as {rel.id}")
    for a in result.new_artifacts:
        ctx.say(f"  {a.role:<13} {a.filename}  {human_size(a.size)}  blake3 {a.blake3[:16]}…")
        if a.download is not None:
            ctx.say(f"  {'':<13} from {a.source_url} ({download_line(a.download)})")
        for record in (a.authenticity, a.openpgp):
            if record is not None:
                ctx.say(f"  {'':<13} {summary(record)}")
    if result.license is not None:
        ctx.say(f"  licence      {result.license.id}" + ("  (key stored encrypted)" if key else ""))
    return 0


def _request(args: argparse.Namespace, ctx: Context, store: Any, key: str | None,
             files: list[Path]) -> tuple[Any, dict[str, dict[str, str]]]:
    from archive.intake.add import AddRequest
    from archive.intake.price import given_price
    from archive.intake.purchase import LicenseFields

    price, currency = given_price(args.price, args.currency)
    fields = LicenseFields(
        kind=args.license_kind, licensed_to=args.licensed_to, email=args.email, company=args.company,
        seats=args.seats, purchase_date=args.purchased, order_number=args.order_number,
        price=price, currency=currency,
        seller=args.seller, expires=args.expires, maintenance_end=args.maintenance_end,
        activation_notes=args.activation_notes)
    product, version, vendor, platform = args.product, args.release_version, args.vendor, args.platform
    detected: dict[str, dict[str, str]] = {}
    found, used = detect(files[0], args)
    if found is not None:
        product, version = product or found.product, version or found.version
        vendor = vendor or (found.vendor if "vendor" in used else None)
        platform = platform or (found.platform if "platform" in used else None)
        if "platform" in used and _held_without_platform(store, product, version, args.edition,
                                                          platform):
            used.remove("platform")
            platform = None
        detected = {files[0].name: {k: found.sources[k] for k in used}}
        if used:
            show_detected(ctx, found, used)
    request = AddRequest(
        product=product, version=version, installers=tuple(files),
        vendor=vendor, edition=args.edition, platform=platform,
        license_files=tuple(args.license_file), invoices=tuple(args.invoice),
        receipts=tuple(args.receipt), key=key, license_id=args.license_id, license=fields,
        source_url=args.source_url, detected=detected, ca_files=tuple(args.ca_file),
        accept_unverified=args.accept_unverified, openpgp_keys=tuple(args.openpgp_key))
    return request, detected


def detect(path: Path, args: argparse.Namespace) -> tuple[Any, list[str]]:
    """Inspect the first installer for what the flags left out (the flags always win). Without
    --product and --version the file must say them; with both, a file that cannot be read is
    archived as named (as before inspection was tried), without a word."""
    from archive.intake.add import check_input_file
    from archive.intake.inspect import inspect_file

    check_input_file(path)
    named = args.product is not None and args.release_version is not None
    try:
        found = inspect_file(path)
    except UsageError:
        if not named:
            raise
        return None, []
    if named and found.damaged:
        return None, []
    missing = [n for n, flag in (("product", args.product), ("version", args.release_version))
               if flag is None and not found.fields.get(n)]
    if found.damaged:
        raise UsageError(f"{path.name}: {found.problems[0]}; give --product and --version to "
                         "archive it anyway")
    if missing:
        said = " and ".join(missing)
        flags = " ".join(f"--{m} {'NAME' if m == 'product' else 'VER'}" for m in missing)
        hints = [(k, found.hints[k]) for k in ("product", "version") if k in missing and k in found.hints]
        hint = ("; the file name suggests " + " ".join(f"--{k} {_quote(v)}" for k, v in hints)
                if hints else "")
        raise UsageError(f"{path.name} ({found.label}) does not say its {said}: give {flags}{hint} "
                         f"(`arkeep inspect {_quote(str(path))}` shows what it does say)")
    flags = {"product": args.product, "version": args.release_version, "vendor": args.vendor,
             "platform": args.platform}
    used = [n for n in ("product", "version", "vendor", "platform")
            if flags[n] is None and found.fields.get(n)]
    return found, used


def _held_without_platform(store: Any, product: str, version: str, edition: str | None,
                           platform: str) -> bool:
    """A release of these names archived without a platform (by an arkeep that did not read
    it when --product and --version were given), and none with the platform read: files added
    again go to that release rather than a second one."""
    from manifests.errors import ReleaseNameClash

    try:
        _, plain = store.catalog.release_for_names(product, version, edition, None)
        _, placed = store.catalog.release_for_names(product, version, edition, platform)
    except (ReleaseNameClash, ValueError):
        return False
    return plain is not None and placed is None


def _quote(text: str) -> str:
    import shlex
    return shlex.quote(text)


def show_detected(ctx: Context, found: Any, used: list[str]) -> None:
    ctx.say(f"Read from {Path(found.path).name} ({found.label}):")
    for name in used:
        ctx.say(f"  {name:<9} {found.fields[name]:<28} ({found.sources[name]})")
