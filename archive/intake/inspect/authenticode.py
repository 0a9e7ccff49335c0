"""Who signed a Windows program, and whether the signature holds: Authenticode, checked by
archive/intake/authenticode.py against the system's trust store, told as inspection fields."""
from __future__ import annotations

from pathlib import Path

from archive.intake import authenticode
from archive.intake.inspect.reading import Reading
from archive.intake.trust import load_anchors

CHAIN_WORDS = {
    "trusted": "chain to a trusted root",
    "root-not-trusted-here": "root not trusted here",
    "incomplete": "chain incomplete",
    "invalid": "chain not valid",
}


def read_signature(path: Path, r: Reading) -> None:
    """Set signer, vendor (the signer's organisation) and signed (when, by which timestamp
    authority); note what the check found. An unsigned program sets nothing."""
    check = authenticode.check_file(path, load_anchors())
    if check.verdict == authenticode.UNSIGNED:
        return
    if check.verdict == authenticode.UNREADABLE:
        r.note(f"the Authenticode signature cannot be checked: {check.reason}")
    signer = check.signer
    if signer is None:
        return
    state = {authenticode.VALID: "valid", authenticode.MISMATCH: "DOES NOT MATCH THE FILE",
             authenticode.BAD_SIGNATURE: "DOES NOT VERIFY"}.get(check.verdict, "not checked")
    chain = CHAIN_WORDS.get(check.chain_status or "", "")
    r.set("signer", signer.common_name or signer.display,
          f"Authenticode signature: {state}" + (f", {chain}" if chain and check.verdict == "valid" else ""))
    if signer.organisation:
        r.set("vendor", signer.organisation, "Authenticode certificate of the signer: organisation (O)")
    ts = check.timestamp
    if ts is not None:
        by = f" by {ts.authority.display}" if ts.authority else ""
        r.set("signed", f"{ts.time:%Y-%m-%d %H:%M}Z{by}",
              "Authenticode timestamp" + ("" if ts.problem is None else f" (not valid: {ts.problem})"))
    if check.verdict in (authenticode.MISMATCH, authenticode.BAD_SIGNATURE):
        r.note(f"the Authenticode signature {state.lower()}: {check.reason}")
