"""The invariants every history is held to, checked against the sheet, the server and the disk.

- ``twice``: each row (its tag in FileName) has at most one invoice on the server, ever.
- ``ids``: every Id in the sheet is an invoice made from that row (same tag, and only values the
  row has held), held by one row only, and never replaced by another Id.
- ``cells``: no cell outside Id, Result and Message differs from what the user typed (the model),
  except the field cells that a pull or a revert refreshes from the server.
- ``settled``: once the history settles (faults off, ``bpxl recover``, then the create the user
  runs for rows still without an Id), no row is Unknown, every row without an Id says why
  (Invalid or Failed), and every invoice of a row in the sheet is that row's Id.
- ``secrets``: neither the password nor any session id the sandbox issued is in any file (every
  part of every workbook included) or in anything bpxl printed.
- ``stops``: after a SIGINT a push sends no new batch and ends within seconds.
"""

from __future__ import annotations

import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from .steps import EDITABLE
from .world import NOTE, OWN, TAG, World, norm

COLLEAGUE_ID = "2"  # the sandbox's number for the colleague's login (its first extra user)

INVARIANTS = ("twice", "ids", "cells", "settled", "secrets", "stops")


@dataclass(frozen=True)
class Violation:
    invariant: str
    text: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.text}"


def server_invoices(world: World) -> list[dict[str, str]]:
    """Every invoice, except those the colleague made from a copy (not held by a row of the
    user's sheet) whose row the user's row no longer matches by value (edited since, on either
    side): without a key field those are two invoices by their values, which no check can tell
    apart (README, "An invoice someone already made")."""
    select = f"SELECT Id, CreatedUserId, {TAG}, {', '.join(EDITABLE)} FROM INVOICE"
    invoices = world.sandbox.store.query(select)
    rows = {row.tag: row for row in world.rows}
    header, cells = world.read()
    held = {norm(r[header.index("Id")]) for r in cells} if "Id" in header else set()
    return [
        invoice
        for invoice in invoices
        if invoice["CreatedUserId"] != COLLEAGUE_ID
        or invoice["Id"] in held  # the colleague pushed the user's own file: the row's invoice
        or (row := rows.get(invoice[TAG])) is None
        or all(norm(invoice[name]) == norm(row.values.get(name)) for name in EDITABLE)
    ]


def check(world: World, adopt: bool = False) -> list[Violation]:
    """``twice``, ``ids`` and ``cells`` now. ``adopt``: the last command was a pull or a revert,
    whose refreshed field cells (in rows with an Id) become what the user sees."""
    found: list[Violation] = []
    invoices = server_invoices(world)
    per_tag: dict[str, list[str]] = defaultdict(list)
    for invoice in invoices:
        per_tag[invoice[TAG]].append(invoice["Id"])
    for tag, ids in sorted(per_tag.items()):
        if tag and len(ids) > 1:
            found.append(
                Violation("twice", f"row {tag} has {len(ids)} invoices: Id {', '.join(ids)}")
            )
    by_id = {invoice["Id"]: invoice for invoice in invoices}
    tag_of = {invoice["Id"]: invoice[TAG] for invoice in invoices}
    header, rows = world.read()
    if len(rows) != len(world.rows):
        found.append(
            Violation(
                "cells", f"the sheet has {len(rows)} data rows, the user made {len(world.rows)}"
            )
        )
        return found
    id_column = header.index("Id")
    holders: Counter[str] = Counter()
    for number, (values, row) in enumerate(zip(rows, world.rows, strict=True), start=2):
        where = f"sheet row {number} ({row.tag})"
        invoice = norm(values[id_column])
        for index, name in enumerate(header):
            if not name or name in OWN:
                continue
            want = row.tag if name == TAG else row.note if name == NOTE else row.values.get(name)
            have = values[index] if index < len(values) else None
            if norm(have) == norm(want):
                continue
            if adopt and invoice and name not in (TAG, NOTE):
                row.set(name, have)
                continue
            found.append(
                Violation("cells", f"{where}: {name} is {have!r}, the user typed {want!r}")
            )
        if not invoice:
            continue
        holders[invoice] += 1
        if tag_of.get(invoice) != row.tag:
            owner = tag_of.get(invoice)
            what = f"row {owner}'s invoice" if owner else "no invoice on the server"
            found.append(Violation("ids", f"{where} holds Id {invoice}, which is {what}"))
        elif foreign := [
            f"{name} {by_id[invoice][name]!r}"
            for name in EDITABLE
            if norm(by_id[invoice][name]) not in row.seen.get(name, set()) | {""}
        ]:
            found.append(
                Violation("ids", f"{where}: its invoice {invoice} has {', '.join(foreign)}, "
                          "which the row never held")
            )  # fmt: skip
        if row.id is not None and row.id != invoice:
            found.append(Violation("ids", f"{where}: its Id {row.id} was replaced by {invoice}"))
        row.id = invoice
    for invoice, count in holders.items():
        if count > 1:
            found.append(Violation("ids", f"{count} rows hold Id {invoice}"))
    return found


def check_settled(world: World) -> list[Violation]:
    found: list[Violation] = []
    header, rows = world.read()
    column = {name: header.index(name) for name in ("Id", "Result", TAG)}
    ids_of: dict[str, list[str]] = defaultdict(list)
    for invoice in server_invoices(world):
        ids_of[invoice[TAG]].append(invoice["Id"])
    for number, values in enumerate(rows, start=2):
        result, invoice, tag = (norm(values[column[n]]) for n in ("Result", "Id", TAG))
        where = f"sheet row {number} ({tag})"
        message = str(values[header.index("Message")] or "") if "Message" in header else ""
        if result == "Unknown":
            found.append(Violation("settled", f"{where} is still Unknown"))
        elif not invoice and result not in ("Invalid", "Failed", "Exists"):
            found.append(Violation("settled", f"{where} has no Id and Result {result or 'blank'}"))
        for made in ids_of.get(tag, []):
            if result == "Exists" and not invoice and f"Id {made}" in message:
                continue  # someone else made it: the row names it and was not sent
            if made != invoice:
                found.append(
                    Violation("settled", f"{where}: its invoice {made} is not in the sheet")
                )
    return found


def check_secrets(world: World) -> list[Violation]:
    secrets = [world.password, world.colleague_password, *world.sandbox.issued]
    found: list[Violation] = []
    for path in sorted(p for p in world.root.rglob("*") if p.is_file()):
        for part, data in _contents(path):
            for secret in secrets:
                if secret.encode() in data:
                    kind = "password" if secret in secrets[:2] else "session id"
                    found.append(
                        Violation("secrets", f"the {kind} is in {_name(world, path)}{part}")
                    )
    for text in world.outputs:
        for secret in secrets:
            if secret in text:
                kind = "password" if secret in secrets[:2] else "session id"
                found.append(Violation("secrets", f"the {kind} was printed: {text[:120]!r}"))
    return found


def _contents(path: Path) -> list[tuple[str, bytes]]:
    data = path.read_bytes()
    if data[:2] != b"PK":
        return [("", data)]
    try:
        with zipfile.ZipFile(path) as archive:
            return [(f" ({n})", archive.read(n)) for n in archive.namelist()]
    except (zipfile.BadZipFile, OSError):
        return [("", data)]


def _name(world: World, path: Path) -> str:
    return str(path.relative_to(world.root))
