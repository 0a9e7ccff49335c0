"""arkeep check"""
from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from archive.cli.context import Context

if TYPE_CHECKING:
    from archive.crypto.keys import SecretBox
    from archive.ops.status import Policy
    from archive.replicate.remotes import RemoteSpec
    from archive.storage.store import Store

EXAMPLES = """examples:
  arkeep check "Adobe Photoshop CS6@13.0"
  arkeep check hello@2.10-3 --json
  ARKEEP_PASSPHRASE=… arkeep check hello@2.10-3      (also checks that the key decrypts)
  arkeep status --ready                              (every release)

Says restorable, at risk or not restorable, with the reasons: the installer in the local store
and on how many remotes, verified how recently; the key present and decryptable (checked only
when the passphrase is at hand: --passphrase-file, $ARKEEP_PASSPHRASE or --unlock); the licence
file and invoice; an expired licence or ended maintenance; an activation that needs the vendor
(account, hardware-bound, subscription). Exit status 0 when restorable, 1 otherwise.
"""
MARKS = {"blocker": "✗", "risk": "!", "info": "·", "ok": "✓"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("check", parents=[common], help="can this release be reinstalled today?",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("release", metavar="PRODUCT@VERSION")
    p.add_argument("--unlock", action="store_true",
                   help="ask for the passphrase to check that the key decrypts")
    p.set_defaults(run=run)


def secret_box(store: Store, ctx: Context, ask: bool) -> SecretBox | None:
    """The store's SecretBox when the passphrase is at hand without asking (or --unlock); else None."""

    if ask or ctx.passphrase_file is not None or os.environ.get("ARKEEP_PASSPHRASE") is not None:
        return ctx.unlock(store).box
    return None


def print_readiness(ctx: Context, data: dict[str, Any], verbose: bool = True) -> None:
    ctx.say(f"{data['verdict'].upper()}: {data['title']} ({data['release']})")
    for r in data["reasons"]:
        if verbose or r["severity"] in ("blocker", "risk"):
            ctx.say(f"  {MARKS.get(r['severity'], '-')} {r['message']}")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.ops.check import check_release
    from archive.ops.status import Policy
    from archive.replicate.remotes import ledger_of, load_remotes

    store = ctx.open_store()
    release = store.catalog.resolve(args.release)
    box = secret_box(store, ctx, args.unlock)
    with ledger_of(store) as ledger:
        result = check_release(store, release, ledger, load_remotes(store),
                               Policy.from_config(store.config), box)
    if ctx.json:
        ctx.emit_json(result.data())
    else:
        print_readiness(ctx, result.data())
    return 0 if result.restorable else 1


def run_ready(store: Store, ctx: Context, policy: Policy, remotes: dict[str, RemoteSpec]) -> int:
    """`arkeep status --ready`: the verdict of `check` for every release."""
    from archive.ops.check import check_all, licences_without_release
    from archive.replicate.remotes import ledger_of

    box = secret_box(store, ctx, ask=False)
    damaged: list[Any] = []
    with ledger_of(store) as ledger:
        results = check_all(store, ledger, remotes, policy, box, damaged)
    for exc in damaged:
        print(f"arkeep: warning: damaged manifest: {exc}; `arkeep verify` lists every problem", file=ctx.err)
    ready = all(r.restorable for r in results) and not damaged
    loose = licences_without_release(store)
    if ctx.json:
        ctx.emit_json({"ready": ready, "key_checked": box is not None,
                       "releases": [r.data() for r in results], "licenses_without_release": loose})
        return 0 if ready else 1
    if loose:
        ctx.note(f"note: {len(loose)} licence record(s) belong to no release, so no installer "
                 f"goes with them ({', '.join(loose[:5])}{', …' if len(loose) > 5 else ''}); "
                 "`arkeep list --licenses` shows them, `arkeep add … --license ID` links one to "
                 "its installer")
    for r in results:
        print_readiness(ctx, r.data(), verbose=False)
    counts = {v: sum(r.verdict == v for r in results) for v in ("restorable", "at risk", "not restorable")}
    ctx.say(f"{counts['restorable']} restorable, {counts['at risk']} at risk, "
            f"{counts['not restorable']} not restorable"
            + ("" if box else " (keys not checked: no passphrase given)") + ".")
    return 0 if ready else 1
