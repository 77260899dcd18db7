"""The INVOICE field catalogue: the only place bpxl learns about fields.

A ``Catalogue`` is the set of fields one run works with. ``BUILT_IN`` is the catalogue below, the
default of every core function; a tenant's own catalogue (its custom fields, lengths and required
flags, read by ``describe``) is passed explicitly through the core instead, never swapped in here.

Names come from BillingPlatform's API reference (the 48 keys of an INVOICE ``brmObjects`` item,
``Id`` included). Types, read-only marks and picklist values are *assumed* (see
``docs/api-notes.md``); every assumption lives in this file, so correcting one is a one-line
change here and nowhere else.

The order of ``FIELDS`` is the column order of the workbook template: ``Id`` first, then the fields
an accountant fills most, then the rest; read-only fields last.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class FieldType(enum.Enum):
    """How a field's value is written in JSON and typed in a cell."""

    ID = "id"
    DATE = "date"
    DATETIME = "date-time"
    FLAG = "flag"
    INTEGER = "integer"
    DECIMAL = "decimal"
    PICKLIST = "picklist"
    TEXT = "text"

    # Members are singletons: hashed by identity in C, not by name in Python (enum's own
    # ``__hash__``), since every cell's conversion looks its field's type up in a dict.
    __hash__ = object.__hash__


@dataclass(frozen=True)
class Field:
    """One INVOICE field as bpxl understands it."""

    name: str
    type: FieldType
    description: str
    read_only: bool = False  # set by BillingPlatform: a value in its column is left out
    picklist: tuple[str, ...] = ()
    label: str = ""  # the tenant's label, when it has one
    length: int | None = None  # the longest text the field takes, when the tenant says
    required: bool = False  # every new invoice needs a value
    api_writable: bool = True  # False: the tenant does not let the API write it at all
    custom: bool = False  # a field of the tenant's own, not in the built-in catalogue

    @property
    def writable(self) -> bool:
        return not self.read_only and self.api_writable


ID = "Id"
ENTITY = "INVOICE"
# Assumed (docs/api-notes.md): the tenant's users are the USER entity, with Id and UserName,
# readable by API users; used only to name who changed an invoice, a number when it is not.
USER_ENTITY = "USER"
USER_NAME = "UserName"

# Assumed (docs/api-notes.md): whole-number fields are 32-bit integers and Ids positive 64-bit
# ones, as in the Java and SQL types behind such APIs. A value outside makes the server fail the
# whole request, so such a row is Invalid before sending.
RANGES: dict[FieldType, tuple[int, int]] = {
    FieldType.INTEGER: (-(2**31), 2**31 - 1),
    FieldType.ID: (1, 2**63 - 1),
}

# Assumed picklist values: offered as dropdown suggestions and used to canonicalise case. A tenant
# may define others; those pass with a warning and the server has the last word.
_STATUS = ("Pending", "Approved", "Closed", "Void")
_APPROVAL_STATUS = ("Pending", "Approved", "Rejected")
_PAYMENT_STATUS = ("Unpaid", "Partially Paid", "Paid", "Overpaid")

# Labels BillingPlatform's screens are assumed to show for some fields (docs/api-notes.md): a
# header spelled so resembles the field, it does not name it (the tenant's own labels do).
KNOWN_LABELS: dict[str, tuple[str, ...]] = {
    "BillingProfileId": ("Billing Profile",),
    "AccountingPeriodId": ("Accounting Period",),
    "Disputed": ("Disputed Flag",),
    "BillableFlag": ("Billable",),
    "MigratedInvoice": ("Migrated",),
}

_T = FieldType
FIELDS: tuple[Field, ...] = (
    Field(
        ID,
        _T.ID,
        "Invoice number assigned by BillingPlatform; leave blank to create, required to update",
        read_only=True,
    ),
    Field("BillingProfileId", _T.ID, "Billing profile (account) the invoice belongs to"),
    Field("Status", _T.PICKLIST, "Invoice status", picklist=_STATUS),
    Field("DueDate", _T.DATE, "Date payment is due"),
    Field("ActivityStartDate", _T.DATE, "First day of the activity billed"),
    Field("ActivityEndDate", _T.DATE, "Last day of the activity billed"),
    Field("BillingCycleStartDate", _T.DATE, "First day of the billing cycle"),
    Field("BillingCycleEndDate", _T.DATE, "Last day of the billing cycle"),
    Field("AccountingPeriodId", _T.ID, "Accounting period the invoice is booked in"),
    Field("PaymentStatus", _T.PICKLIST, "Payment status", picklist=_PAYMENT_STATUS),
    Field("ApprovalStatus", _T.PICKLIST, "Approval status", picklist=_APPROVAL_STATUS),
    Field("ApprovalDate", _T.DATE, "Date the invoice was approved"),
    Field("ApprovalUserId", _T.ID, "User who approved the invoice"),
    Field("ClosedDate", _T.DATE, "Date the invoice was closed"),
    Field("BillableFlag", _T.FLAG, "Whether the invoice is billable"),
    Field("Disputed", _T.FLAG, "Whether the customer disputes the invoice"),
    Field("VoidFlag", _T.FLAG, "Whether the invoice is void"),
    Field("SendInvoiceEmail", _T.FLAG, "Whether to e-mail the invoice to the customer"),
    Field("SuppressBulkCloseFlag", _T.FLAG, "Keep this invoice out of bulk close runs"),
    Field("ManualCloseApprovedFlag", _T.FLAG, "Manual close has been approved"),
    Field("ReburnFlag", _T.FLAG, "Invoice is to be re-generated (reburned)"),
    Field("MigratedInvoice", _T.FLAG, "Invoice was migrated from another system"),
    Field("AgingInterval", _T.INTEGER, "Aging interval in days"),
    Field("AutoPayTriggerDate", _T.DATE, "Date automatic payment is triggered"),
    Field("EstimateDate", _T.DATE, "Date of the estimate"),
    Field("NextEstimateDate", _T.DATE, "Date of the next estimate"),
    Field("EstimatedStatus", _T.PICKLIST, "Estimate status (tenant-defined values)"),
    Field("EinvoiceStatus", _T.PICKLIST, "E-invoicing status (tenant-defined values)"),
    Field("InvoiceReburnAction", _T.PICKLIST, "Action to take when reburning (tenant-defined)"),
    Field("AccountStrategyId", _T.ID, "Account strategy applied to the invoice"),
    Field("EventInvoiceCycleId", _T.ID, "Event invoice cycle that produced the invoice"),
    Field("FileName", _T.TEXT, "File name of the invoice document"),
    Field("LastGatewayKey", _T.TEXT, "Key of the last payment gateway transaction"),
    Field("MoveInvoiceDescription", _T.TEXT, "Reason the invoice was moved"),
    # Read-only: set by BillingPlatform, never sent.
    Field("Created", _T.DATETIME, "When the invoice was created", read_only=True),
    Field("CreatedUserId", _T.ID, "User who created the invoice", read_only=True),
    Field("Updated", _T.DATETIME, "When the invoice was last changed", read_only=True),
    Field("UpdatedUserId", _T.ID, "User who last changed the invoice", read_only=True),
    Field("CurrentAction", _T.PICKLIST, "Action in progress (system)", read_only=True),
    Field("LastAction", _T.PICKLIST, "Last action performed (system)", read_only=True),
    Field("AvailableActions", _T.TEXT, "Actions available now (system)", read_only=True),
    Field("PendingActions", _T.TEXT, "Actions queued (system)", read_only=True),
    Field("MassUpdateError", _T.TEXT, "Error of the last mass update (system)", read_only=True),
    Field("PdfCreatedDate", _T.DATE, "Date the PDF was generated", read_only=True),
    Field("LastEmailDeliveryDate", _T.DATE, "Date the invoice was last e-mailed", read_only=True),
    Field("CreatedByInvoiceId", _T.ID, "Invoice this one was created from", read_only=True),
    Field("ReopenedByInvoiceId", _T.ID, "Invoice that reopened this one", read_only=True),
    Field("VoidedByCreditId", _T.ID, "Credit that voided this invoice", read_only=True),
)


def header_key(text: str) -> str:
    """Normalise a header for matching: case- and space-insensitive ("Due date" == "DueDate")."""
    return "".join(text.split()).casefold()


# A header "resembles" a field when, letters and digits only, it is a field's name or label
# (or either without a trailing Id or Flag: "Billing Profile", "Billable") give or take a letter
# ("Due Dte"), or two in a word of more than 8 (not two added: "My Billing Profile" is the user's
# own). Short keys are left alone: "Qty" is no typo of
# anything.
_SUFFIXES = ("id", "flag")
_SHORTEST = 4


def _loose(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def _stems(key: str) -> set[str]:
    """A key, and the key without a trailing Id or Flag."""
    found = {key}
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) - len(suffix) >= _SHORTEST:
            found.add(key.removesuffix(suffix))
    return found


def spelling_distance(a: str, b: str) -> int:
    """Letters to add, drop, change or swap to turn ``a`` into ``b`` (optimal string alignment;
    stops counting past 3, which is all a resemblance needs)."""
    if abs(len(a) - len(b)) > 3:
        return 4
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        previous, row = row, [i] + [0] * len(b)
        for j, y in enumerate(b, start=1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                row[j] = min(row[j], before[j - 2] + 1)
        before = previous
    return row[-1]


BUILT_IN_SOURCE, TENANT_SOURCE = "built-in", "tenant"


class Catalogue:
    """The INVOICE fields one run works with, in template column order.

    ``source`` says where they come from (``built-in`` or ``tenant``); ``notes`` are one-line
    remarks for the user (why the built-in catalogue is in use, types read as text).
    """

    def __init__(
        self,
        fields: Iterable[Field],
        source: str = BUILT_IN_SOURCE,
        notes: Iterable[str] = (),
    ) -> None:
        self.fields = tuple(fields)
        self.source = source
        self.notes = tuple(notes)
        self.by_name: dict[str, Field] = {f.name: f for f in self.fields}
        self._by_key: dict[str, Field] = {header_key(f.name): f for f in self.fields}
        labels: dict[str, list[Field]] = {}
        for f in self.fields:
            if f.label:
                labels.setdefault(header_key(f.label), []).append(f)
        for key, named in labels.items():  # a label two fields share names neither
            if len(named) == 1 and key not in self._by_key:
                self._by_key[key] = named[0]
        self._stems = [
            (stem, f)
            for f in self.fields
            for text in (f.name, f.label, *KNOWN_LABELS.get(f.name, ()))
            if text
            for stem in _stems(_loose(text))
        ]

    def __repr__(self) -> str:
        return f"Catalogue({len(self.fields)} fields, {self.source})"

    def lookup(self, header: object) -> Field | None:
        """The field a column header names (its name, or the tenant's label for it), or None for
        a user column."""
        if not isinstance(header, str):
            return None
        return self._by_key.get(header_key(header))

    def resembles(self, header: str) -> Field | None:
        """The field a header that names none probably means (see ``_stems``), or None."""
        best: tuple[int, Field] | None = None
        for key in _stems(_loose(header)):
            if len(key) < _SHORTEST:
                continue
            for stem, field in self._stems:
                long = len(stem) > 8 and abs(len(key) - len(stem)) < 2  # not a word added
                allowed = 2 if long else 1
                distance = spelling_distance(key, stem)
                if distance <= allowed and (best is None or distance < best[0]):
                    best = (distance, field)
        return best[1] if best else None

    def template_fields(self) -> Iterator[Field]:
        """The template's field columns: ``Id`` and every writable field, in catalogue order."""
        return (f for f in self.fields if f.writable or f.name == ID)

    def required(self) -> Iterator[Field]:
        """The fields a create must fill (only writable ones: the system fills the others)."""
        return (f for f in self.fields if f.required and f.writable)


TABLE_HEADER = ("Field", "Label", "Type", "Length", "Required", "Writable", "Origin")


def table(catalogue: Catalogue) -> list[list[object]]:
    """The catalogue as ``bpxl fields`` prints it and ``=BP_FIELDS()`` shows it, header first."""
    rows: list[list[object]] = [list(TABLE_HEADER)]
    for f in catalogue.fields:
        rows.append(
            [
                f.name,
                f.label,
                f.type.value,
                "" if f.length is None else f.length,
                "yes" if f.required else "",
                "yes" if f.writable else "",
                TENANT_SOURCE if f.custom else BUILT_IN_SOURCE,
            ]
        )
    return rows


BUILT_IN = Catalogue(FIELDS)
BY_NAME: dict[str, Field] = BUILT_IN.by_name
lookup = BUILT_IN.lookup
template_fields = BUILT_IN.template_fields
