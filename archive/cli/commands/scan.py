"""arkeep scan"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from archive.cli.context import Context, has_terminal
from archive.errors import EXIT_PROBLEM, UsageError

HELP = "find installers, licence files and receipts in a folder and propose releases"
EXAMPLES = """examples:
  arkeep scan ~/Downloads                    (shows the plan; changes nothing)
  arkeep scan ~/Downloads --json
  arkeep scan /media/old-backup --apply      (asks, then archives)
  arkeep scan ~/Downloads --apply --yes      (for scripts)

Installers are grouped into releases by what they say about themselves (see `arkeep inspect`),
else by their file names (marked as a guess). Licence files (*.lic, LICENSE*, *.key, ...),
invoices and receipts (.eml, Outlook .msg, PDF text) are linked to the release they name; the order number,
date, price, seller and licence key in a receipt email go into the licence record, the key
stored encrypted. Keys are masked in the plan unless --reveal. A receipt with a key that names
no installer found becomes a licence record without a release (see `arkeep list --licenses`);
receipts of one order fill one licence record.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("scan", parents=[common], help=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Walk a folder (a Downloads folder, an old backup disk) and "
                                   "turn its installers, licence files, invoices and order "
                                   "emails into proposed releases; --apply archives them.")
    p.add_argument("folder", type=Path, metavar="DIR")
    p.add_argument("--apply", action="store_true", help="archive the proposed releases")
    p.add_argument("--yes", "-y", action="store_true", help="with --apply: do not ask")
    p.add_argument("--reveal", action="store_true", help="show licence keys found in receipts")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from archive.intake.scan import apply_licences, apply_plan, plan_data, plan_scan

    if args.yes and not args.apply:
        raise UsageError("--yes only goes with --apply")
    store = ctx.open_store() if args.apply else None
    plan = plan_scan(args.folder.expanduser())
    data = plan_data(plan, reveal=args.reveal)
    if not ctx.json:
        ctx.say("\n".join(plan_lines(plan, args.reveal)))
    if not args.apply or not (plan.releases or plan.licences):
        if ctx.json:
            ctx.emit_json(data)
        elif plan.releases or plan.licences:
            ctx.say("Nothing was archived; run again with --apply to archive these releases.")
        return 0
    assert store is not None
    if not args.yes and not confirm(ctx, len(plan.releases), len(plan.licences)):
        if ctx.json:
            ctx.emit_json(data)
        ctx.say("Nothing was archived.")
        return 0
    # Keys, and receipts, invoices and licence files (kept encrypted at rest), need the secret.
    needs_key = any(r.key or r.extra_keys or r.license_files or r.invoices or r.receipts
                    for r in plan.releases) or bool(plan.licences)
    keyring = ctx.unlock(store) if needs_key else None
    with store.writing("arkeep scan"):
        try:
            applied = apply_plan(store, plan, keyring, progress_for=ctx.file_bar)
        finally:
            ctx.close_bars()
        recorded = apply_licences(store, plan, keyring)
    failed = [a for a in applied if a.error] + [a for a in recorded if a.error]
    if ctx.json:
        data["applied"] = [{"id": a.result.release.id if a.result else a.release.id,
                            "created": a.result.created if a.result else None,
                            "unchanged": a.result.unchanged if a.result else None,
                            "license": a.result.license.id if a.result and a.result.license else None,
                            "error": a.error} for a in applied]
        data["applied_licences"] = [{"receipt": a.proposal.receipt.name, "license": a.license_id,
                                     "action": a.action, "error": a.error} for a in recorded]
        ctx.emit_json(data)
    else:
        for a in applied:
            if a.error:
                ctx.note(f"arkeep: {a.release.id}: not archived: {a.error}")
            elif a.result is not None and a.result.unchanged:
                ctx.say(f"Already archived: {a.result.release.id}")
            elif a.result is not None:
                lic = f", licence {a.result.license.id}" if a.result.license else ""
                key = " (key stored encrypted)" if a.release.key else ""
                verb = "Archived" if a.result.created else "Updated"
                ctx.say(f"{verb} {a.result.release.id}: {len(a.result.new_artifacts)} new "
                        f"file(s){lic}{key}")
        for lr in recorded:
            if lr.error:
                ctx.note(f"arkeep: {lr.proposal.receipt.name}: licence not recorded: {lr.error}")
            else:
                said = {"new": "Recorded licence", "updated": "Added to licence",
                        "unchanged": "Already recorded: licence"}[lr.action or "new"]
                ctx.say(f"{said} {lr.license_id} from {lr.proposal.receipt.name} (no release; "
                        "`arkeep add INSTALLER … --license ID --receipt FILE` links it)")
    return EXIT_PROBLEM if failed else 0


def confirm(ctx: Context, count: int, licences: int = 0) -> bool:
    if not has_terminal() or not sys.stdin.isatty():
        raise UsageError("scan --apply asks before archiving: run it in a terminal, or add --yes")
    more = f" and {licences} licence record{'s' * (licences != 1)}" if licences else ""
    answer = input(f"Archive {count} release{'s' * (count != 1)}{more} into {ctx.store_path}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def plan_lines(plan: Any, reveal: bool) -> list[str]:
    from archive.intake.receipts import mask_key
    from archive.intake.scan import shown_key

    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(plan.root))
        except ValueError:
            return str(p)

    n = len(plan.releases)
    lines = [f"Scanned {plan.root}: {plan.files} file(s), {n} proposed release{'s' * (n != 1)}."]
    for r in plan.releases:
        lines += ["", f"{r.id}   {r.product} {r.version}" + (f" ({r.platform})" if r.platform else "")]
        for name in ("product", "version", "vendor", "platform"):
            value = getattr(r, name)
            if value:
                lines.append(f"  {name:<13} {value:<28} {r.sources.get(name, '')}")
        for role, paths in (("installer", r.installers), ("license-file", r.license_files),
                            ("invoice", r.invoices), ("receipt", r.receipts)):
            for p in paths:
                why = r.links.get(p.name, "")
                lines.append(f"  {role:<13} {rel(p):<28} {why}")
        if r.key:
            lines.append(f"  {'key':<13} {shown_key(r, reveal):<28} {r.key_source}")
        for where, value in r.extra_keys:
            lines.append(f"  {'extra key':<13} {value if reveal else mask_key(value):<28} {where}")
        lic = r.license
        order = ", ".join(str(v) for v in (lic.order_number, lic.purchase_date,
                                           f"{lic.price} {lic.currency or ''}".strip()
                                           if lic.price else None, lic.seller) if v)
        if order:
            lines.append(f"  {'order':<13} {order}")
        for note in r.notes:
            lines.append(f"  note: {note}")
    if plan.licences:
        lines += ["", ("Licences from receipts that name no installer found (recorded without a "
                       "release; the receipt file itself is not archived):")]
        for lp in plan.licences:
            lines.append(f"  {rel(lp.receipt)}: {lp.product or '(no product named)'}")
            if lp.key:
                shown = lp.key if reveal else mask_key(lp.key)
                lines.append(f"    {'key':<11} {shown:<28} {lp.key_source}")
            for where, value in lp.extra_keys:
                lines.append(f"    {'extra key':<11} {value if reveal else mask_key(value):<28} {where}")
            if lp.license.order_number:
                lines.append(f"    {'order':<11} {lp.license.order_number}")
    if plan.unlinked:
        lines += ["", "Found but not placed:"]
        lines += [f"  {f.role:<13} {rel(f.path)}: {f.reason}" for f in plan.unlinked]
    if plan.ignored:
        lines += ["", f"Ignored {len(plan.ignored)} other file(s) (--json lists them with the reason)."]
    return lines
