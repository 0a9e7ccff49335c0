"""Validation of schema-1 manifests: every problem named with file, field and reason; hostile input
is refused with ManifestInvalid, never a crash; secrets never appear in plain text or in messages."""
from __future__ import annotations

from typing import Any

import pytest
import tomli_w

from manifests.codec import MAX_MANIFEST_BYTES, parse_license, parse_release, parse_table
from manifests.errors import ManifestInvalid, Problem, UnknownSchema
from manifests.model import legacy_release_id, release_id, slugify
from manifests.schema import unsafe_filename_reason

SOURCE = "store/manifests/releases/foo@1.0.toml"
DIGEST = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
PLAIN_KEY = "ZX81-SPECTRUM-C64-AMIGA-0042"


def release_table(**over: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "schema": 1, "kind": "release", "id": "foo@1.0", "product": "Foo", "version": "1.0",
        "created": "2026-11-25T08:00:00Z",
        "artifact": [{"role": "installer", "filename": "setup.exe", "size": 3, "blake3": DIGEST}],
    }
    table.update(over)
    return table


def release_toml(**over: Any) -> str:
    table = release_table(**over)
    text = tomli_w.dumps({k: v for k, v in table.items() if k != "created"})
    if "created" in table:   # a real TOML date-time, not a string
        text = f"created = {table['created']}\n" + text
    return text


def license_toml(**over: Any) -> str:
    table: dict[str, Any] = {"schema": 1, "kind": "license", "id": "lic-abcd1234", "license_kind": "serial"}
    table.update(over)
    return "created = 2026-11-25T08:00:00Z\n" + tomli_w.dumps(table)


def problems_of(exc: pytest.ExceptionInfo[ManifestInvalid]) -> dict[str, str]:
    return {p.field: p.reason for p in exc.value.problems}


def test_a_minimal_release_is_valid() -> None:
    r = parse_release(release_toml(), SOURCE)
    assert r.id == "foo@1.0" and r.artifacts[0].filename == "setup.exe"


def test_several_problems_are_collected_at_once_with_file_field_reason() -> None:
    art = {"role": "crack", "filename": "setup.exe", "size": 3, "blake3": "XYZ"}
    text = release_toml(artifact=[art]).replace('version = "1.0"\n', "")
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(text, SOURCE)
    problems = exc.value.problems
    assert len(problems) == 3, problems
    assert all(p.source == SOURCE for p in problems)
    found = problems_of(exc)
    assert set(found) == {"version", "artifact[0].role", "artifact[0].blake3"}
    assert found["version"] == "is missing"
    assert "'crack' is not one of" in found["artifact[0].role"] and "installer" in found["artifact[0].role"]
    assert "'XYZ'" in found["artifact[0].blake3"]
    message = str(exc.value)
    assert message.startswith(SOURCE + ": ") and "(and 2 more problems)" in message


def test_problems_in_different_artifacts_are_indexed() -> None:
    arts = [{"role": "installer", "filename": "a.exe", "size": 1, "blake3": DIGEST},
            {"role": "installer", "filename": "b.exe", "size": -1, "blake3": DIGEST.upper()},
            "not a table"]
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(release_toml(artifact=arts), SOURCE)
    found = problems_of(exc)
    assert set(found) == {"artifact[1].size", "artifact[1].blake3", "artifact[2]"}
    assert found["artifact[1].size"] == "must be at least 0"


def test_wrong_types_are_named() -> None:
    text = release_toml(product=42, licenses="lic-abcd1234", extra=[1, 2])
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(text.replace("created = 2026-11-25T08:00:00Z", 'created = "yesterday"'), SOURCE)
    found = problems_of(exc)
    assert found["product"] == "must be a string, not int"
    assert found["licenses"] == "must be a list of strings"
    assert found["extra"] == "must be a table"
    assert "TOML date-time" in found["created"]


def test_artifact_licence_must_be_listed_by_the_release() -> None:
    art = {"role": "installer", "filename": "a.exe", "size": 1, "blake3": DIGEST, "license": "lic-abcd1234"}
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(release_toml(artifact=[art]), SOURCE)
    assert problems_of(exc) == {"artifact[0].license": "'lic-abcd1234' is not listed in licenses"}


def test_schema_2_is_refused_naming_a_newer_arkeep() -> None:
    with pytest.raises(UnknownSchema) as exc:
        parse_release(release_toml(schema=2), SOURCE)
    assert "newer arkeep" in str(exc.value) and SOURCE in str(exc.value)
    assert exc.value.problems == [exc.value.problems[0]] and exc.value.problems[0].field == "schema"
    with pytest.raises(UnknownSchema, match="newer arkeep"):
        parse_license(license_toml(schema=2), SOURCE)


@pytest.mark.parametrize("schema", [0, -1, "1", True, None])
def test_missing_or_bad_schema_number_is_refused(schema: Any) -> None:
    over = {"schema": schema} if schema is not None else {}
    table = release_table(**over)
    if schema is None:
        del table["schema"]
    text = "created = 2026-11-25T08:00:00Z\n" + tomli_w.dumps({k: v for k, v in table.items() if k != "created"})
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(text, SOURCE)
    assert not isinstance(exc.value, UnknownSchema)
    assert exc.value.problems[0].field == "schema"


def test_a_licence_is_not_read_as_a_release() -> None:
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(license_toml(), SOURCE)
    assert problems_of(exc) == {"kind": "must be 'release'"}


def test_unknown_field_is_a_problem_that_suggests_extra() -> None:
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(release_toml(shelf="B3"), SOURCE)
    found = problems_of(exc)
    assert list(found) == ["shelf"] and "[extra]" in found["shelf"]
    art = {"role": "installer", "filename": "a.exe", "size": 1, "blake3": DIGEST, "md5": "x"}
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(release_toml(artifact=[art]), SOURCE)
    assert "[extra]" in problems_of(exc)["artifact[0].md5"]
    with pytest.raises(ManifestInvalid) as exc:
        parse_license(license_toml(serial_number="123"), SOURCE)
    assert "[extra]" in problems_of(exc)["serial_number"]


@pytest.mark.parametrize("field", ["key", "account_hint"])
def test_plain_text_secret_in_a_local_licence_is_a_problem_and_not_echoed(field: str) -> None:
    with pytest.raises(ManifestInvalid) as exc:
        parse_license(license_toml(**{field: PLAIN_KEY}), SOURCE)
    found = problems_of(exc)
    assert list(found) == [field] and "plain text" in found[field]
    assert PLAIN_KEY not in str(exc.value)
    assert all(PLAIN_KEY not in str(p) for p in exc.value.problems)
    assert PLAIN_KEY not in repr(exc.value.problems)


def test_plain_text_extra_key_is_a_problem_and_not_echoed() -> None:
    token = "ENC[AES256_GCM,v1,AAAA]"
    with pytest.raises(ManifestInvalid) as exc:
        parse_license(license_toml(extra_keys=[token, PLAIN_KEY]), SOURCE)
    assert list(problems_of(exc)) == ["extra_keys[1]"]
    assert PLAIN_KEY not in str(exc.value) and PLAIN_KEY not in repr(exc.value.problems)


def test_secret_like_strings_that_do_not_close_are_plain_text() -> None:
    almost = "ENC[AES256_GCM,v1," + PLAIN_KEY      # no closing bracket: not a token
    with pytest.raises(ManifestInvalid) as exc:
        parse_license(license_toml(key=almost), SOURCE)
    assert "key" in problems_of(exc) and PLAIN_KEY not in str(exc.value)


def test_plain_secrets_are_accepted_only_when_allowed() -> None:
    lic = parse_license(license_toml(key=PLAIN_KEY), SOURCE, allow_plain_secrets=True)
    assert lic.key is not None and lic.key.plain == PLAIN_KEY and not lic.key.is_encrypted


def test_licence_field_validation() -> None:
    text = license_toml(license_kind="pirated", seats=0, price="six hundred", currency="eur",
                        email=["a"], expires="2030-01-01")
    with pytest.raises(ManifestInvalid) as exc:
        parse_license(text, SOURCE)
    found = problems_of(exc)
    assert set(found) == {"license_kind", "seats", "price", "currency", "email", "expires"}
    assert "TOML date" in found["expires"]


HOSTILE_NAMES = ["../x", "/etc/passwd", "a/b", "a\\b", "x\x00y", "\x1b[31m", "..", ".", "",
                 "C:evil.exe", "tab\there", "new\nline", "del\x7f", "x" * 256, "é" * 128]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_filenames_are_rejected(name: str) -> None:
    assert unsafe_filename_reason(name) is not None
    art = {"role": "installer", "filename": name, "size": 1, "blake3": DIGEST}
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(release_toml(artifact=[art]), SOURCE)
    assert list(problems_of(exc)) == ["artifact[0].filename"]


@pytest.mark.parametrize("name", ["setup.exe", "Ünïcødé – setup (x64) [v2].exe", "with spaces.msi",
                                  "it's \"quoted\".exe", "-x.exe", ".hidden", "...", "x" * 255, "é" * 127])
def test_ordinary_odd_filenames_are_accepted(name: str) -> None:
    assert unsafe_filename_reason(name) is None
    art = {"role": "installer", "filename": name, "size": 1, "blake3": DIGEST}
    assert parse_release(release_toml(artifact=[art]), SOURCE).artifacts[0].filename == name


def test_oversized_manifest_is_refused() -> None:
    big = release_toml(notes="x" * 100) + "\n# " + "y" * MAX_MANIFEST_BYTES + "\n"
    for data in (big, big.encode()):
        with pytest.raises(ManifestInvalid) as exc:
            parse_release(data, SOURCE)
        assert "larger than" in str(exc.value) and SOURCE in str(exc.value)


def test_oversized_text_field_is_refused() -> None:
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(release_toml(notes="n" * (64 * 1024 + 1)), SOURCE)
    assert "longer than" in problems_of(exc)["notes"]


@pytest.mark.parametrize("nested", [
    "x = " + "[" * 50_000 + "]" * 50_000,
    "x = " + "{a = " * 50_000 + "1" + "}" * 50_000,
    "x = " + "[" * 50_000,                                   # and unterminated
])
def test_deeply_nested_toml_is_refused_not_a_crash(nested: str) -> None:
    with pytest.raises(ManifestInvalid) as exc:
        parse_release(release_toml() + nested + "\n", SOURCE)
    assert exc.value.problems and exc.value.problems[0].source == SOURCE
    assert "nested too deeply" in str(exc.value)


def test_deep_dotted_tables_under_extra_parse_or_fail_cleanly() -> None:
    text = release_toml() + "[extra." + ".".join(f"k{i}" for i in range(5_000)) + "]\nv = 1\n"
    release = parse_release(text, SOURCE)        # tomllib builds these iteratively: valid
    assert "k0" in release.extra


@pytest.mark.parametrize("data", [b"\xff\xfe not utf-8", "schema = 1\nkind = ", "[[artifact]\n",
                                  "schema = 1\nschema = 1\n"])
def test_malformed_toml_is_one_clear_problem(data: bytes | str) -> None:
    with pytest.raises(ManifestInvalid) as exc:
        parse_table(data, SOURCE)
    assert len(exc.value.problems) == 1
    assert exc.value.problems[0] == Problem(SOURCE, "", exc.value.problems[0].reason)
    assert "UTF-8" in str(exc.value) or "not valid TOML" in str(exc.value)


def test_slugs_and_release_ids() -> None:
    assert slugify("Adobe Photoshop CS6") == "adobe-photoshop-cs6"
    assert slugify("Ünïcödé  Tööl!") == "unicode-tool"
    assert slugify("???") == "x"
    # The ids of arkeep before 2026-12 (still on disk in older stores): slugs only.
    assert legacy_release_id("Adobe Photoshop CS6", "13.0", "Extended", "Windows x64") == \
        "adobe-photoshop-cs6@13.0+extended+windows-x64"
    # Today's: the same where the slug says everything the name says.
    assert release_id("Adobe Photoshop CS6", "13.0", "Extended", "windows-x64") == \
        "adobe-photoshop-cs6@13.0+extended+windows-x64"
    assert release_id("hello", "2.10-3") == "hello@2.10-3"
