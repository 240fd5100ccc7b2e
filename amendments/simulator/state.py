"""The simulator's in-memory Dintero: drafts, orders, payment records and the rules they obey.

Pure state and rules, no HTTP: every method either changes state and returns the JSON Dintero
would answer, or raises `SimError` (status, code, message, errors) before changing anything.
The HTTP layer in `app.py` turns `SimError` into Dintero's error envelope. See `app.py`'s
docstring for the list of rules whose real Dintero behaviour is unknown (the assumptions).
"""

from __future__ import annotations

import random
import string
import uuid
from collections import defaultdict
from typing import Any

from pydantic import TypeAdapter

from amendments.simulator.base import SimError, bad, now, parse
from amendments.simulator.orders import (
    Account,
    Draft,
    DraftIn,
    ItemIn,
    Line,
    Operation,
    OperationIn,
    Order,
)

_ACCOUNTS = TypeAdapter(dict[str, Account])


class Store:
    """All accounts' state, with the rules applied on every write."""

    def __init__(self, seed: int | None = None) -> None:
        self.accounts: dict[str, Account] = defaultdict(Account)
        self._random = random.Random(seed)
        # Assumptions flipped by the test control `/_sim/assumptions` (never kept): the
        # simulator then behaves as Dintero would if that assumption were wrong.
        self.flipped: set[str] = set()

    # --- keeping it across restarts (`amend dev`) ------------------------------------------

    def dump(self) -> bytes:
        """Every account's drafts, orders and records as JSON, exactly as `load` reads them."""
        return _ACCOUNTS.dump_json(dict(self.accounts), indent=1)

    @classmethod
    def load(cls, data: bytes, seed: int | None = None) -> Store:
        """The store `dump` wrote; a file that does not parse is refused, never half read."""
        store = cls(seed)
        store.accounts.update(_ACCOUNTS.validate_json(data))
        return store

    # --- drafts --------------------------------------------------------------------------

    def create_draft(self, aid: str, body: Any) -> dict[str, Any]:
        draft_in = parse(DraftIn, body)
        account = self.accounts[aid]
        self._check_items(account, draft_in)
        draft = Draft(id=str(uuid.uuid4()), options=draft_in.options, order=draft_in.order)
        if draft_in.options.generate_order_id == "ALPHANUMERIC_9_RESERVE":
            draft.reserved_order_id = self._new_order_id(account, "ALPHANUMERIC_9")
            account.reserved.add(draft.reserved_order_id)
        account.drafts[draft.id] = draft
        return draft.view()

    def get_draft(self, aid: str, draft_id: str) -> dict[str, Any]:
        return self._draft(aid, draft_id).view()

    def list_drafts(self, aid: str, status: str | None) -> dict[str, Any]:
        drafts = self.accounts[aid].drafts.values()
        return {"draft_orders": [d.view() for d in drafts if status in (None, d.status)]}

    def complete_draft(self, aid: str, draft_id: str) -> dict[str, Any]:
        account = self.accounts[aid]
        draft = self._draft(aid, draft_id)
        if draft.status != "open":
            raise bad(
                f"draft {draft_id} is {draft.status} and cannot be completed again",
                "status",
                "DRAFT_NOT_OPEN",
            )
        draft_in = DraftIn(options=draft.options, order=draft.order)
        self._check_items(account, draft_in)  # the rules hold again at completion
        multi = bool(draft.options.multiple_authorizations)
        if draft.options.order_id is not None:
            order = account.orders[draft.options.order_id]
        elif draft.reserved_order_id is not None:
            order_id = draft.reserved_order_id
            order = Order(order_id=order_id, currency=draft.order.currency)
            account.orders[order_id] = order
        else:
            order_id = self._new_order_id(account, draft.options.generate_order_id)
            order = Order(order_id=order_id, currency=draft.order.currency)
            account.orders[order_id] = order
        for item in draft.order.items:
            order.lines[item.line_id] = Line(item=item, multiple_authorizations=multi)
        order.updated_at = now()
        draft.status = "completed"
        return {"orders": [order.view()]}

    def _draft(self, aid: str, draft_id: str) -> Draft:
        draft = self.accounts[aid].drafts.get(draft_id)
        if draft is None:
            raise SimError(404, "NOT_FOUND", f"draft {draft_id} not found")
        return draft

    def _new_order_id(self, account: Account, generate: str | None) -> str:
        if generate is None:
            return str(uuid.uuid4())
        if generate not in ("ALPHANUMERIC_9", "ALPHANUMERIC_9_RESERVE"):
            raise bad(
                f"generate_order_id {generate!r} is not supported", "options.generate_order_id"
            )
        alphabet = string.ascii_uppercase + string.digits
        while True:
            candidate = "".join(self._random.choice(alphabet) for _ in range(9))
            if candidate not in account.orders and candidate not in account.reserved:
                return candidate

    def _check_items(self, account: Account, draft: DraftIn) -> None:
        options, order_in = draft.options, draft.order
        existing: Order | None = None
        if options.order_id is not None:
            if options.generate_order_id is not None:
                raise bad(
                    "options.order_id and options.generate_order_id cannot both be set",
                    "options",
                )
            existing = account.orders.get(options.order_id)
            if existing is None:
                raise SimError(404, "NOT_FOUND", f"order {options.order_id} not found")
            self._require_open(existing)
            if existing.currency != order_in.currency:
                raise bad(
                    f"currency {order_in.currency} does not match order currency "
                    f"{existing.currency}",
                    "order.currency",
                )
        seen: set[int] = set()
        highest = max(existing.lines, default=0) if existing else 0
        reversed_gross: dict[int, int] = defaultdict(int)
        reversed_quantity: dict[int, int] = defaultdict(int)
        reversed_tax: dict[tuple[int, float], int] = defaultdict(int)
        if existing is not None:
            for line in existing.lines.values():
                self._add_reversal(line.item, reversed_gross, reversed_quantity, reversed_tax)
        for index, item in enumerate(order_in.items):
            where = f"order.items.{index}"
            if item.line_id in seen:
                raise bad(f"line_id {item.line_id} appears twice in the draft", f"{where}.line_id")
            seen.add(item.line_id)
            if existing is not None and item.line_id in existing.lines:
                raise bad(
                    f"line_id {item.line_id} already exists on order {existing.order_id}",
                    f"{where}.line_id",
                    "DUPLICATE_LINE_ID",
                )
            if item.line_id <= highest:
                raise bad(
                    f"line_id {item.line_id} must be greater than the order's highest line id "
                    f"{highest}: lines are appended",
                    f"{where}.line_id",
                )
            self._check_amounts(item, where)
            if item.related_item is None:
                continue
            if existing is None:
                raise bad(
                    "related_item needs a draft linked to an order with options.order_id",
                    f"{where}.related_item",
                )
            self._check_reversal(existing, item, where)
            self._add_reversal(item, reversed_gross, reversed_quantity, reversed_tax)
            target = existing.lines[item.related_item.line_id].item
            if -reversed_gross[target.line_id] > target.gross_amount:
                raise bad(
                    f"reversing line {target.line_id} by {-reversed_gross[target.line_id]} in all "
                    f"exceeds its gross_amount {target.gross_amount}",
                    f"{where}.gross_amount",
                    "REVERSAL_EXCEEDS_LINE",
                )
            if reversed_quantity[target.line_id] > target.quantity:
                raise bad(
                    f"reversing {reversed_quantity[target.line_id]} of line {target.line_id} "
                    f"exceeds its quantity {target.quantity}",
                    f"{where}.quantity",
                    "REVERSAL_EXCEEDS_LINE",
                )
            line_tax: dict[float, int] = defaultdict(int)
            for tax in target.tax_lines:
                line_tax[tax.percentage] += tax.amount
            for tax in item.tax_lines:
                if tax.percentage not in line_tax:
                    raise bad(
                        f"tax percentage {tax.percentage} is not on line {target.line_id}",
                        f"{where}.tax_lines",
                    )
                if -reversed_tax[(target.line_id, tax.percentage)] > line_tax[tax.percentage]:
                    raise bad(
                        f"reversed tax at {tax.percentage}% exceeds line {target.line_id}'s tax",
                        f"{where}.tax_lines",
                        "REVERSAL_EXCEEDS_LINE",
                    )

    @staticmethod
    def _add_reversal(
        item: ItemIn,
        gross: dict[int, int],
        quantity: dict[int, int],
        tax: dict[tuple[int, float], int],
    ) -> None:
        if item.related_item is None:
            return
        target = item.related_item.line_id
        gross[target] += item.gross_amount
        quantity[target] += item.quantity
        for t in item.tax_lines:
            tax[(target, t.percentage)] += t.amount

    @staticmethod
    def _check_amounts(item: ItemIn, where: str) -> None:
        reversal = item.related_item is not None
        if reversal and item.gross_amount >= 0:
            raise bad("a reversal line must have a negative gross_amount", f"{where}.gross_amount")
        if not reversal and item.gross_amount < 0:
            raise bad(
                "a negative gross_amount is only allowed on a reversal line with related_item",
                f"{where}.gross_amount",
            )
        tax_total = 0
        for t_index, tax in enumerate(item.tax_lines):
            if tax.amount != 0 and (tax.amount < 0) != (item.gross_amount < 0):
                raise bad(
                    "a tax amount must have the sign of the line's gross_amount",
                    f"{where}.tax_lines.{t_index}.amount",
                )
            tax_total += tax.amount
        if abs(tax_total) > abs(item.gross_amount):
            raise bad(
                f"tax {tax_total} exceeds gross_amount {item.gross_amount}", f"{where}.tax_lines"
            )

    @staticmethod
    def _check_reversal(order: Order, item: ItemIn, where: str) -> None:
        related = item.related_item
        assert related is not None
        if related.type != "reversed":
            raise bad(
                f"related_item.type {related.type!r} is not supported; only 'reversed'",
                f"{where}.related_item.type",
            )
        target = order.lines.get(related.line_id)
        if target is None:
            raise bad(
                f"related_item.line_id {related.line_id} is not a line of order {order.order_id}",
                f"{where}.related_item.line_id",
            )
        if target.item.related_item is not None:
            raise bad(
                f"line {related.line_id} is itself a reversal line and cannot be reversed",
                f"{where}.related_item.line_id",
            )
        if target.item.id != item.id:
            raise bad(
                f"a reversal line must keep the product id {target.item.id!r} of line "
                f"{related.line_id}",
                f"{where}.id",
            )

    # --- orders and payment operations ---------------------------------------------------

    def get_order(self, aid: str, order_id: str) -> dict[str, Any]:
        return self._order(aid, order_id).view()

    def _order(self, aid: str, order_id: str) -> Order:
        order = self.accounts[aid].orders.get(order_id)
        if order is None:
            raise SimError(404, "NOT_FOUND", f"order {order_id} not found")
        return order

    @staticmethod
    def _require_open(order: Order) -> None:
        if order.status != "open":
            raise bad(f"order {order.order_id} is {order.status}", "order.status", "ORDER_NOT_OPEN")

    def list_operations(self, aid: str, order_id: str, kind: str) -> dict[str, Any]:
        order = self._order(aid, order_id)
        return {f"{kind}s": [o.view() for o in order.ops(kind, successful=False)]}

    def get_operation(self, aid: str, order_id: str, kind: str, op_id: str) -> dict[str, Any]:
        order = self._order(aid, order_id)
        for op in order.ops(kind, successful=False):
            if op.id == op_id:
                return op.view()
        raise SimError(404, "NOT_FOUND", f"{kind} {op_id} is not on order {order_id}")

    def cancel(self, aid: str, order_id: str) -> dict[str, Any]:
        order = self._order(aid, order_id)
        self._require_open(order)
        if order.ops("capture"):
            raise bad(
                f"order {order.order_id} has captures; only an uncaptured order can be cancelled",
                "order.status",
                "ORDER_CAPTURED",
            )
        order.status = "cancelled"
        return order.view()

    def close(self, aid: str, order_id: str) -> dict[str, Any]:
        order = self._order(aid, order_id)
        self._require_open(order)
        order.status = "closed"
        return order.view()

    def record(self, aid: str, order_id: str, kind: str, body: Any) -> dict[str, Any]:
        op_in = parse(OperationIn, body)
        order = self._order(aid, order_id)
        self._require_open(order)
        self._check_operation(order, kind, op_in)
        op = Operation(kind=kind, body=op_in)
        order.operations.append(op)
        order.updated_at = now()
        return op.view()

    def _check_operation(self, order: Order, kind: str, op: OperationIn) -> None:
        seen: set[int] = set()
        auth_id = op.authorization_id
        for index, item in enumerate(op.items):
            where = f"items.{index}"
            line = order.lines.get(item.line_id)
            if line is None:
                raise bad(
                    f"line_id {item.line_id} is not a line of order {order.order_id}",
                    f"{where}.line_id",
                )
            if item.line_id in seen:
                raise bad(f"line_id {item.line_id} appears twice", f"{where}.line_id")
            seen.add(item.line_id)
            if item.amount == 0 or line.sign == 0 or (item.amount > 0) != (line.sign > 0):
                raise bad(
                    f"amount {item.amount} must be non-zero with the sign of line "
                    f"{item.line_id}'s gross_amount {line.item.gross_amount}",
                    f"{where}.amount",
                )
            if line.multiple_authorizations and auth_id is None:
                raise bad(
                    f"authorization_id is required: line {item.line_id} belongs to a draft with "
                    "options.multiple_authorizations",
                    "authorization_id",
                )
            if not op.success:
                continue
            self._check_limits(order, kind, line, item.amount, auth_id, where)
        if kind == "authorization" and auth_id is not None:
            for existing in order.ops("authorization", successful=False):
                if existing.body.authorization_id == auth_id:
                    raise bad(
                        f"authorization_id {auth_id!r} is already used on order {order.order_id}",
                        "authorization_id",
                        "DUPLICATE_AUTHORIZATION_ID",
                    )

    def _check_limits(
        self, order: Order, kind: str, line: Line, amount: int, auth_id: str | None, where: str
    ) -> None:
        line_id = line.item.line_id
        if kind == "authorization":
            earlier = [
                o
                for o in order.ops("authorization", successful=False)
                if any(i.line_id == line_id for i in o.body.items)
            ]
            if earlier and not line.multiple_authorizations and "A7" not in self.flipped:
                raise bad(
                    f"line {line_id} is already authorized; a second authorization needs "
                    "options.multiple_authorizations on its draft",
                    f"{where}.line_id",
                    "ALREADY_AUTHORIZED",
                )
            authorized = order.line_total("authorization", line_id)
            if abs(authorized + amount) > abs(line.item.gross_amount):
                raise bad(
                    f"authorizing {amount} on line {line_id} would exceed its gross_amount "
                    f"{line.item.gross_amount} (already authorized {authorized})",
                    f"{where}.amount",
                    "AMOUNT_EXCEEDS_LINE",
                )
            return
        # A capture and a cancellation share the authorization (A14, A15); a refund, the capture.
        base_kind = "capture" if kind == "refund" else "authorization"
        done_kinds = ("refund",) if kind == "refund" else ("capture", "cancellation")
        if auth_id is not None and line.multiple_authorizations:
            base = order.totals(base_kind).get((line_id, auth_id), 0)
            done = sum(order.totals(k).get((line_id, auth_id), 0) for k in done_kinds)
            scope = f"line {line_id} under authorization_id {auth_id!r}"
        else:
            base = order.line_total(base_kind, line_id)
            done = sum(order.line_total(k, line_id) for k in done_kinds)
            scope = f"line {line_id}"
        if abs(done + amount) > abs(base):
            verb = {"capture": "capturing", "refund": "refunding", "cancellation": "cancelling"}
            noun = {"authorization": "authorized", "capture": "captured"}[base_kind]
            already = "refunded" if kind == "refund" else "captured or cancelled"
            raise bad(
                f"{verb[kind]} {amount} on {scope} would exceed what is {noun} ({base}; "
                f"already {already} {done})",
                f"{where}.amount",
                "AMOUNT_EXCEEDS_" + noun.upper(),
            )

    # --- inspection ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            aid: {
                "drafts": [d.view() for d in account.drafts.values()],
                "orders": {
                    oid: {
                        **order.view(),
                        "captures": [o.view() for o in order.ops("capture", successful=False)],
                        "refunds": [o.view() for o in order.ops("refund", successful=False)],
                    }
                    for oid, order in account.orders.items()
                },
            }
            for aid, account in self.accounts.items()
            if account.drafts or account.orders
        }
