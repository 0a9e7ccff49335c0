"""Schema 1: turn parsed TOML tables into model objects, collecting every problem on the way.

A reader that meets a problem records it and carries on, so one run names everything wrong with
a manifest (file, field, reason) instead of stopping at the first.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from manifests.provenance import Authenticity, Download

from .errors import ManifestInvalid, Problem, UnknownSchema
from .model import (
    ENCRYPTED_PREFIX,
    LICENSE_KINDS,
    ROLES,
    SCHEMA_VERSION,
    Artifact,
    License,
    Release,
    Secret,
    is_amount,
    is_currency_code,
)

HEX64 = re.compile(r"^[0-9a-f]{64}$")
RELEASE_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*@[a-z0-9][a-z0-9.-]*(\+[a-z0-9][a-z0-9.-]*)*$")
LICENSE_ID = re.compile(r"^lic-[a-z0-9]{4,32}$")
UNIT_NAME = re.compile(r"^[0-9a-f]{64}$")
MAX_TEXT = 64 * 1024
MAX_FILENAME_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def unsafe_filename_reason(name: str) -> str | None:
    """Why `name` cannot be written as one file inside a target directory, or None if it can."""
    if not name:
        return "is empty"
    if name in (".", ".."):
        return f"'{name}' is not a file name"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if _CONTROL.search(name):
        return "contains a control character"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_FILENAME_BYTES:
        return f"is longer than {MAX_FILENAME_BYTES} bytes"
    if re.match(r"^[A-Za-z]:", name):
        return "starts with a drive letter"
    return None


class _Fields:
    """Reads typed fields from one table, recording problems against `source` and `prefix`."""

    def __init__(self, table: dict[str, Any], source: str, prefix: str, problems: list[Problem],
                 allow_plain_secrets: bool) -> None:
        self.table, self.source, self.prefix, self.problems = table, source, prefix, problems
        self.allow_plain_secrets = allow_plain_secrets
        self.seen: set[str] = set()

    def problem(self, name: str, reason: str) -> None:
        self.problems.append(Problem(self.source, f"{self.prefix}{name}", reason))

    def _get(self, name: str, required: bool) -> Any:
        self.seen.add(name)
        if name not in self.table:
            if required:
                self.problem(name, "is missing")
            return None
        return self.table[name]

    def text(self, name: str, required: bool = False, choices: tuple[str, ...] = (),
             pattern: re.Pattern[str] | None = None) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(name, f"must be a string, not {type(value).__name__}")
            return None
        if len(value) > MAX_TEXT:
            self.problem(name, f"is longer than {MAX_TEXT} characters")
            return None
        if required and not value.strip():
            self.problem(name, "is empty")
            return None
        if choices and value not in choices:
            self.problem(name, f"'{value}' is not one of: {', '.join(choices)}")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(name, f"'{value[:80]}' is not in the expected form")
            return None
        return value

    def integer(self, name: str, required: bool = False, minimum: int = 0) -> int | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, f"must be an integer, not {type(value).__name__}")
            return None
        if value < minimum:
            self.problem(name, f"must be at least {minimum}")
            return None
        return value

    def moment(self, name: str, required: bool = False) -> datetime | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, datetime):
            self.problem(name, "must be a TOML date-time, e.g. 2026-11-25T08:00:00Z")
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def day(self, name: str) -> date | None:
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, datetime) or not isinstance(value, date):
            self.problem(name, "must be a TOML date, e.g. 2012-05-07")
            return None
        return value

    def price(self, name: str) -> str | None:
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problem(name, "must be a decimal amount written as a string, e.g. \"699.00\"")
            return None
        text = str(value)
        if not is_amount(text):
            self.problem(name, f"'{text[:40]}' is not a decimal amount")
            return None
        return text

    def currency(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not is_currency_code(value):
            self.problem(name, f"'{value[:40]}' is not a three-letter currency code such as EUR")
            return None
        return value

    def secret(self, name: str, value: Any = None, from_table: bool = True) -> Secret | None:
        if from_table:
            value = self._get(name, False)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            self.problem(name, "must be a string")
            return None
        if value.startswith(ENCRYPTED_PREFIX) and value.endswith("]"):
            return Secret(token=value)
        if self.allow_plain_secrets:
            return Secret(plain=value)
        self.problem(name, "holds a secret in plain text; local manifests store secrets encrypted "
                           "(add the licence with `arkeep add --key-file`)")
        return None

    def secrets(self, name: str) -> tuple[Secret, ...]:
        value = self._get(name, False)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(name, "must be a list of strings")
            return ()
        found = (self.secret(f"{name}[{i}]", v, from_table=False) for i, v in enumerate(value))
        return tuple(s for s in found if s is not None)

    def strings(self, name: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
        value = self._get(name, False)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(name, "must be a list of strings")
            return ()
        for v in value:
            if not pattern.match(v):
                self.problem(name, f"'{v[:80]}' is not in the expected form")
        return tuple(value)

    def table_field(self, name: str) -> dict[str, Any]:
        value = self._get(name, False)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(name, "must be a table")
            return {}
        return value

    def string_table(self, name: str) -> dict[str, str]:
        value = self.table_field(name)
        for key, text in value.items():
            if not isinstance(text, str):
                self.problem(f"{name}.{key}", f"must be a string, not {type(text).__name__}")
                return {}
            if len(text) > MAX_TEXT:
                self.problem(f"{name}.{key}", f"is longer than {MAX_TEXT} characters")
                return {}
        return value

    def finish(self) -> None:
        for name in self.table:
            if name not in self.seen:
                self.problem(name, "is not a field of schema 1 (keep your own fields under [extra])")


def check_schema(table: dict[str, Any], source: str, kind: str) -> None:
    """Refuse a manifest of another kind or of a schema this version does not know."""
    version = table.get("schema")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ManifestInvalid([Problem(source, "schema", "is missing or not an integer")])
    if version > SCHEMA_VERSION:
        raise UnknownSchema([Problem(source, "schema", f"is {version}, written by a newer arkeep; "
                                     f"this version reads schema {SCHEMA_VERSION}: upgrade arkeep")])
    if version < 1:
        raise ManifestInvalid([Problem(source, "schema", f"{version} is not a valid schema number")])
    if table.get("kind") != kind:
        raise ManifestInvalid([Problem(source, "kind", f"must be '{kind}'")])


def _artifact(table: Any, source: str, index: int, problems: list[Problem]) -> Artifact | None:
    if not isinstance(table, dict):
        problems.append(Problem(source, f"artifact[{index}]", "must be a table"))
        return None
    before = len(problems)
    f = _Fields(table, source, f"artifact[{index}].", problems, allow_plain_secrets=False)
    role = f.text("role", required=True, choices=ROLES)
    filename = f.text("filename", required=True)
    if filename is not None and (reason := unsafe_filename_reason(filename)):
        f.problem("filename", f"{filename!r} {reason}")
    size = f.integer("size", required=True)
    digest = f.text("blake3", required=True, pattern=HEX64)
    media_type = f.text("media_type") or "application/octet-stream"
    license_id = f.text("license", pattern=LICENSE_ID)
    source_url = f.text("source_url")
    retrieved = f.moment("retrieved")
    unit = f.text("unit", pattern=UNIT_NAME)
    extra = f.table_field("extra")
    detected = f.string_table("detected")
    raw_authenticity = f.table_field("authenticity")
    authenticity = _authenticity(raw_authenticity, source, f"artifact[{index}].authenticity.",
                                 problems) if raw_authenticity else None
    raw_openpgp = f.table_field("openpgp")
    openpgp = _authenticity(raw_openpgp, source, f"artifact[{index}].openpgp.",
                            problems) if raw_openpgp else None
    raw_download = f.table_field("download")
    download = _download(raw_download, source, f"artifact[{index}].download.",
                         problems) if raw_download else None
    f.finish()
    if len(problems) > before:
        return None
    assert role is not None and filename is not None and size is not None and digest is not None
    return Artifact(role=role, filename=filename, size=size, blake3=digest, media_type=media_type,
                    license=license_id, source_url=source_url, retrieved=retrieved, unit=unit,
                    extra=extra, detected=detected, authenticity=authenticity, openpgp=openpgp,
                    download=download)


HEX_DIGEST = re.compile(r"^[0-9a-f]{32,128}$")
BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
NO_NUL = re.compile(r"^[^\x00]*$")


CHECKSUM = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")


def _download(table: dict[str, Any], source: str, prefix: str,
              problems: list[Problem]) -> Download | None:
    """[artifact.download]: how `add URL` fetched the file (see docs/FORMAT.md)."""
    from manifests.provenance import EVIDENCE_VERSION, Download  # on first use: see its docstring

    before = len(problems)
    f = _Fields(table, source, prefix, problems, allow_plain_secrets=False)
    evidence = f.integer("evidence", required=True, minimum=1)
    if evidence is not None and evidence > EVIDENCE_VERSION:
        f.problem("evidence", f"is {evidence}, written by a newer arkeep; this version reads "
                              f"evidence {EVIDENCE_VERSION}: upgrade arkeep")
    text = f.text
    values = dict(  # noqa: C408 - keyword form, field by field as Download declares them
        requested_url=text("requested_url", required=True),
        redirects=f.strings("redirects", NO_NUL), status=f.integer("status"),
        etag=text("etag"), last_modified=text("last_modified"),
        content_length=f.integer("content_length"), content_type=text("content_type"),
        resumed_from=f.integer("resumed_from"), tls_version=text("tls_version"),
        server_subject=text("server_subject"),
        server_certificates=f.strings("server_certificates", HEX64),
        sha256=text("sha256", pattern=HEX64), checksums=f.strings("checksums", CHECKSUM),
        checksum_source=text("checksum_source"), checksums_openpgp=text("checksums_openpgp"),
    )
    f.finish()
    if len(problems) > before:
        return None
    return Download(evidence=evidence, **values)  # type: ignore[arg-type]


def _authenticity(table: dict[str, Any], source: str, prefix: str,
                  problems: list[Problem]) -> Authenticity | None:
    """[artifact.authenticity]: the evidence of one signature check (see docs/FORMAT.md)."""
    from manifests.provenance import (  # on first use: see its docstring
        AUTHENTICITY_KINDS,
        AUTHENTICITY_VERDICTS,
        CHAIN_STATUSES,
        EVIDENCE_VERSION,
        Authenticity,
        CertificateRecord,
    )

    before = len(problems)
    f = _Fields(table, source, prefix, problems, allow_plain_secrets=False)
    evidence = f.integer("evidence", required=True, minimum=1)
    if evidence is not None and evidence > EVIDENCE_VERSION:
        f.problem("evidence", f"is {evidence}, written by a newer arkeep; this version reads "
                              f"evidence {EVIDENCE_VERSION}: upgrade arkeep")
    text = f.text
    values = dict(  # noqa: C408 - keyword form, field by field as Authenticity declares them
        kind=text("kind", required=True, choices=AUTHENTICITY_KINDS),
        verdict=text("verdict", required=True, choices=AUTHENTICITY_VERDICTS),
        checked=f.moment("checked", required=True),
        reason=text("reason"), signer=text("signer"), signer_subject=text("signer_subject"),
        program=text("program"), digest_algorithm=text("digest_algorithm"),
        signed_digest=text("signed_digest", pattern=HEX_DIGEST),
        timestamp=f.moment("timestamp"), timestamp_authority=text("timestamp_authority"),
        timestamp_problem=text("timestamp_problem"),
        chain_status=text("chain_status", choices=CHAIN_STATUSES), chain_detail=text("chain_detail"),
        anchor_sources=f.strings("anchor_sources", NO_NUL),
        anchor=text("anchor", pattern=BASE64),
        signature_offset=f.integer("signature_offset"), signature_size=f.integer("signature_size"),
        fingerprint=text("fingerprint", pattern=re.compile(r"^[0-9A-F]{16,64}$")),
        signature_file=text("signature_file"),
        notes=f.strings("notes", NO_NUL),
    )
    certificates = f._get("certificate", False) or []
    records = []
    if not isinstance(certificates, list):
        f.problem("certificate", "must be an array of tables")
        certificates = []
    for i, cert in enumerate(certificates):
        if not isinstance(cert, dict):
            f.problem(f"certificate[{i}]", "must be a table")
            continue
        c = _Fields(cert, source, f"{prefix}certificate[{i}].", problems, allow_plain_secrets=False)
        subject, digest = c.text("subject", required=True), c.text("sha256", required=True, pattern=HEX64)
        start, end = c.moment("not_before", required=True), c.moment("not_after", required=True)
        c.finish()
        if subject is not None and digest is not None and start is not None and end is not None:
            records.append(CertificateRecord(subject, digest, start, end))
    f.finish()
    if len(problems) > before:
        return None
    return Authenticity(evidence=evidence, certificate=tuple(records), **values)  # type: ignore[arg-type]


def release_from_table(table: dict[str, Any], source: str = "") -> Release:
    """Validate one release table; raise ManifestInvalid naming every problem."""
    check_schema(table, source, "release")
    problems: list[Problem] = []
    f = _Fields(table, source, "", problems, allow_plain_secrets=False)
    f.seen.update(("schema", "kind"))
    rid = f.text("id", required=True, pattern=RELEASE_ID)
    product = f.text("product", required=True)
    version = f.text("version", required=True)
    created = f.moment("created", required=True)
    vendor, edition, platform, notes = (f.text(n) for n in ("vendor", "edition", "platform", "notes"))
    licenses = f.strings("licenses", LICENSE_ID)
    extra = f.table_field("extra")
    raw_artifacts = f._get("artifact", False) or []
    if not isinstance(raw_artifacts, list):
        f.problem("artifact", "must be an array of tables ([[artifact]])")
        raw_artifacts = []
    artifacts = [_artifact(a, source, i, problems) for i, a in enumerate(raw_artifacts)]
    f.finish()
    for i, a in enumerate(artifacts):
        if a is not None and a.license is not None and a.license not in licenses:
            problems.append(Problem(source, f"artifact[{i}].license",
                                    f"'{a.license}' is not listed in licenses"))
    if problems:
        raise ManifestInvalid(problems)
    assert rid and product and version and created
    return Release(id=rid, product=product, version=version, created=created, vendor=vendor,
                   edition=edition, platform=platform, notes=notes, licenses=licenses,
                   artifacts=tuple(a for a in artifacts if a is not None), extra=extra,
                   schema=table["schema"])


def license_from_table(table: dict[str, Any], source: str = "", allow_plain_secrets: bool = False) -> License:
    """Validate one licence table; plain secrets are allowed only inside sealed bundles."""
    check_schema(table, source, "license")
    problems: list[Problem] = []
    f = _Fields(table, source, "", problems, allow_plain_secrets)
    f.seen.update(("schema", "kind"))
    text: Callable[..., str | None] = f.text
    values = dict(  # noqa: C408 - keyword form, field by field as License declares them
        id=text("id", required=True, pattern=LICENSE_ID),
        kind=text("license_kind", required=True, choices=LICENSE_KINDS),
        created=f.moment("created", required=True),
        product=text("product"),
        key=f.secret("key"),
        extra_keys=f.secrets("extra_keys"),
        licensed_to=text("licensed_to"), email=text("email"), company=text("company"),
        seats=f.integer("seats", minimum=1),
        purchase_date=f.day("purchase_date"), order_number=text("order_number"),
        price=f.price("price"), currency=f.currency("currency"),
        seller=text("seller"), vendor=text("vendor"),
        expires=f.day("expires"), maintenance_end=f.day("maintenance_end"),
        activation_notes=text("activation_notes"), account_hint=f.secret("account_hint"),
        notes=text("notes"), extra=f.table_field("extra"),
    )
    f.finish()
    if problems:
        raise ManifestInvalid(problems)
    return License(schema=table["schema"], **values)  # type: ignore[arg-type]
