"""Server answers -> one result per record: the only place that decides what an answer means.

The rule is to never report a success the server did not confirm for that record: an item counts
as success only with ``ErrorCode`` ``"0"`` (and, for a create, a new ``Id`` that is a positive
whole number no other item of the answer names; an update's item may only name the record's own
``Id``). Whatever cannot be
tied to a record for certain (an answer with the wrong number of items, a body that is not JSON, a
server error after the request went out) makes that record ``Unknown``, with a message saying
whether sending it again is safe.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from . import fields, redact
from .results import SUCCESS, Operation, Outcome, RecordResult

ANSWER_KEYS = {
    Operation.CREATE: "createResponse",
    Operation.UPDATE: "updateResponse",
    Operation.UPSERT: "upsertResponse",
}


def positive_id(value: object) -> str | None:
    """An Id as BillingPlatform hands them out: a positive whole number, as digits; else None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return str(int(text)) if text.isascii() and text.isdigit() and int(text) > 0 else None


def resend_advice(op: Operation) -> str:
    """What the user may do with a row whose outcome is unknown, by operation."""
    if op is Operation.CREATE:
        return (
            "check in BillingPlatform whether the invoice exists before sending again "
            "(a second create would duplicate it)"
        )
    return f"sending the {op.value} again is safe"


def all_records(n: int, outcome: Outcome, message: str) -> list[RecordResult]:
    return [RecordResult(outcome, None, (message,)) for _ in range(n)]


def unknown(op: Operation, n: int, what: str, split: bool = False) -> list[RecordResult]:
    """Every record of a batch that went out but whose fate the answer does not tell."""
    return [unsure(op, what, split) for _ in range(n)]


def unsure(op: Operation, what: str, split: bool = False) -> RecordResult:
    """One record that went out but whose fate the answer does not tell: ``Unknown``, saying
    what is known and whether sending it again is safe."""
    message = f"{what[:1].upper()}{what[1:]}; {resend_advice(op)}"
    return RecordResult(Outcome.UNKNOWN, None, (message,), split)


def from_body(
    op: Operation,
    records: Sequence[Mapping[str, Any]],
    text: str,
    key: str | None = None,
    external_id: str = fields.ID,
) -> list[RecordResult]:
    """Map a 2xx answer's items (under ``key``, default the op's) to the records sent: in order,
    unless an item names (by Id, or an upsert's ``external_id``) a record other than its own."""
    try:
        body = json.loads(text)
    except ValueError:
        return unknown(op, len(records), "BillingPlatform's answer could not be read (not JSON)")
    items = body.get(key or ANSWER_KEYS[op]) if isinstance(body, dict) else None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return unknown(op, len(records), "BillingPlatform's answer had no per-row results")
    if len(items) != len(records):
        return _refuse_shared_ids(op, _match_by_id(op, items, records))
    keys = _keys(op, external_id)
    pairs = list(zip(items, records, strict=True))
    alone = len(records) == 1 and op is Operation.UPDATE  # its item's Id is checked below
    if alone or all(all(_verdicts(item, record, keys)) for item, record in pairs):
        results = [_item_result(op, item, record) for item, record in pairs]
    else:
        results = _match_by_name(op, items, records, keys)
    return _refuse_shared_ids(op, results)


def _refuse_shared_ids(op: Operation, results: list[RecordResult]) -> list[RecordResult]:
    """Two rows cannot both be the one new invoice: an Id named twice is believed for neither.
    (Only a success has an Id.)"""
    if op is Operation.UPDATE:
        return results  # each item was checked against its record's own Id
    counts = Counter(r.id for r in results if r.outcome.ok)
    return [
        unsure(op, f"BillingPlatform gave Id {r.id} to {counts[r.id]} rows of one batch")
        if counts[r.id] > 1
        else r
        for r in results
    ]


def _match_by_id(
    op: Operation, items: list[Any], records: Sequence[Mapping[str, Any]]
) -> list[RecordResult]:
    """A short or long answer: trust only items that name the Id of a record we sent once."""
    what = f"BillingPlatform answered {len(items)} results for {len(records)} rows"
    if op is Operation.CREATE:
        return unknown(op, len(records), f"{what}, so no row can be matched to its answer")
    by_id: dict[str | None, Any] = {}  # Ids compared as numbers
    for item in items:
        if isinstance(item, dict) and (named := positive_id(item.get(fields.ID))):
            by_id[named] = None if named in by_id else item
    results = []
    for record in records:
        item = by_id.get(positive_id(record.get(fields.ID)))
        if item is None:
            results.append(unsure(op, f"{what} and none of them is this row's"))
        else:
            results.append(_item_result(op, item, record))
    return results


def _keys(op: Operation, external_id: str) -> tuple[str, ...]:
    """The fields by which an answer's item can be told to be a record's: the Id of an update or
    an upsert on Id, the key of an upsert on another field (which creates new Ids: an Id names
    no record sent), none for a create (every Id is new)."""
    if op is Operation.CREATE:
        return ()
    if op is Operation.UPSERT:
        return (external_id,)
    return tuple(dict.fromkeys((fields.ID, external_id)))


def _verdicts(item: Any, record: Mapping[str, Any], keys: tuple[str, ...]) -> list[bool]:
    """For each of ``keys`` that both ``item`` and ``record`` give: whether the item's value
    names the record's."""
    if not isinstance(item, dict):
        return []
    given = [(record.get(name), item.get(name)) for name in keys]
    return [
        _same(mine, theirs) for mine, theirs in given if not _blank(mine) and not _blank(theirs)
    ]


def _same(mine: object, theirs: object) -> bool:
    """Whether two values name the same record: Ids compared as numbers, others as text."""
    return _canonical(mine) == _canonical(theirs)


def _canonical(value: object) -> str:
    return positive_id(value) or str(value).strip()


def _blank(value: object) -> bool:
    """A value that names nothing."""
    return value in (None, "")


def _match_by_name(
    op: Operation, items: list[Any], records: Sequence[Mapping[str, Any]], keys: tuple[str, ...]
) -> list[RecordResult]:
    """Answers out of order: each record takes the one item that names it (by Id or key); a
    record no item names, or that two name, cannot be told its fate: Unknown (an update or
    upsert may be sent again; a create is looked up)."""
    results = []
    for record in records:
        named = [item for item in items if (said := _verdicts(item, record, keys)) and all(said)]
        if len(named) == 1:
            results.append(_item_result(op, named[0], record))
        else:
            what = (
                "BillingPlatform's answers came in another order than the rows were sent, and "
                + ("none of them names" if not named else "more than one names")
                + " this row"
            )
            results.append(unsure(op, what))
    return results


def _item_result(op: Operation, item: Any, record: Mapping[str, Any]) -> RecordResult:
    if not isinstance(item, dict):
        return unsure(op, "BillingPlatform's result for this row could not be read")
    code = item.get("ErrorCode")
    if code is None or str(code).strip() == "":
        return unsure(op, "BillingPlatform's result for this row has no result code")
    if str(code).strip() != "0":
        return RecordResult(Outcome.FAILED, None, (_refusal(item),))
    given = item.get("Id")
    new_id = positive_id(given)
    own_id = record.get(fields.ID)
    if op is Operation.UPDATE and _blank(given):
        new_id = None if own_id is None else str(own_id)
    elif op is Operation.UPDATE and new_id != positive_id(own_id):
        return unsure(op, f"BillingPlatform answered for Id {_shown(given)}, not this row's")
    elif op is Operation.UPSERT and _blank(given) and own_id is not None:
        new_id = str(own_id)
    elif new_id is None:
        what = "no Id" if _blank(given) else f"Id {_shown(given)}, which is not an invoice Id"
        return unsure(op, f"BillingPlatform reported success but gave {what}")
    message: tuple[str, ...] = ()
    flag = str(item.get("created")).strip().lower()
    created = {"true": True, "1": True, "false": False, "0": False}.get(flag)
    if op is Operation.UPSERT and created:
        message = ("No invoice matched, so a new one was created",)
    return RecordResult(SUCCESS[op], new_id, message, created=created)


def _shown(value: object) -> str:
    """A value from an answer, short and printable, for a message."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 30 else text[:29] + "…"


def _refusal(item: Mapping[str, Any]) -> str:
    """``"DueDate: <server text> (BillingPlatform error CODE)"`` for a refused record."""
    text = str(item.get("ErrorText") or "no reason given").strip()
    column = str(item.get("ErrorElementField") or "").strip()
    said = f"{column}: {text}" if column else f"{text[:1].upper()}{text[1:]}"
    return f"{said} (BillingPlatform error {item.get('ErrorCode')}); fix it and send again"


# Where an error page starts echoing the request's headers ("... with Host: x; User-Agent: y").
_HEADER_DUMP = re.compile(
    r"(?:\bwith\s+)?\b(?:host|user-agent|accept(?:-[a-z]+)?|connection|content-(?:length|type)"
    r"|authorization|cookie|sessionid|x-[a-z-]+)\s*:\s",
    re.I,
)


def server_text(body: str, limit: int = 300) -> str:
    """The readable gist of an error body: JSON error text, an HTML title, or plain text."""
    texts = _json_texts(body) or [_plain_text(body)]
    gist = redact.printable("; ".join(t for t in texts if t)) or "no details"
    return gist if len(gist) <= limit else gist[: limit - 1] + "…"


def _json_texts(body: str) -> list[str]:
    """The texts of a JSON error body: its string values, and in objects those under a key
    naming a text (``ErrorText``, ``error_text``...); none if it is no JSON object."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    texts: list[str] = []
    if isinstance(parsed, dict):
        for value in parsed.values():
            for entry in value if isinstance(value, list) else [value]:
                if isinstance(entry, dict):
                    texts += [str(v) for k, v in entry.items() if "text" in k.lower() and v]
                elif isinstance(entry, str) and entry:
                    texts.append(entry)
    return texts


def _plain_text(body: str) -> str:
    """An HTML page's title, or the body's text without tags or the request's headers."""
    title = re.search(r"(?is)<title[^>]*>(.*?)</title>", body)
    plain = title.group(1) if title else re.sub(r"<[^>]+>", " ", body)
    plain = html.unescape(" ".join(plain.split()))
    dump = _HEADER_DUMP.search(plain)  # the request's headers echoed back: of no use to read
    return plain[: dump.start()].rstrip(" ;,:-") if dump else plain


# Whole-request refusals: the server processed nothing, so the advice is what to change first.
# (A 400, 408 or 409 is not among them: after those the server may have stored some records.)
_REFUSED = {
    413: "the batch was too large ({detail}); nothing was saved; send again with a smaller "
    "--batch-size",
    429: "BillingPlatform is rate limiting ({detail}); nothing was saved; send again in a few "
    "minutes",
    401: "BillingPlatform refused the login ({detail}); nothing was saved; check the user's "
    "access and send again",
    403: "BillingPlatform refused the login ({detail}); nothing was saved; check the user's "
    "access and send again",
}


def from_status(op: Operation, n: int, status: int, body: str) -> list[RecordResult]:
    """A whole request answered with an HTTP error: every record gets that answer."""
    detail = f"HTTP {status}: {server_text(body)}"
    if status in _REFUSED:
        return all_records(n, Outcome.FAILED, _REFUSED[status].format(detail=detail))
    if status >= 500:
        what = f"BillingPlatform failed while handling the batch ({detail})"
    else:
        what = f"BillingPlatform refused the batch as a whole ({detail}), perhaps after saving some"
    # A 400 or a plain 500 is about what was sent (one bad record can cause it); a gateway's
    # 502/503/504, a 408 or a 409 is about the moment, and the same batch may go through later.
    return unknown(op, n, what, split=status in (400, 500))
