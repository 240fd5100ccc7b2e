"""A sheet reads at any width: whole where it fits, else its kept columns on the row and the
rest under it; no line passes the width and no id is split across lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from amendments.domain.models import LineResult
from amendments.render.sheet import Column, Sheet
from amendments.render.tables import ledger_table

pytestmark = pytest.mark.timeout(120)

ids = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1, max_size=40)
prose = st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=12), max_size=30).map(" ".join)


def printed(sheet: Sheet, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(sheet)
    return console.export_text().splitlines()


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(ids, ids, st.integers(-(10**9), 10**9), prose), min_size=1, max_size=5),
    width=st.integers(60, 160),
)
def test_no_line_passes_the_width_and_no_id_is_split(
    rows: list[tuple[str, str, int, str]], width: int
) -> None:
    sheet = Sheet(
        "amendments",
        [Column("workflow"), Column("run", keep=False), Column("amount", right=True),
         Column("why", keep=False)],
    )  # fmt: skip
    for workflow, run, amount, why in rows:
        sheet.add_row(workflow, run, str(amount), why)
    lines = printed(sheet, width)
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    words = {w for line in lines for w in line.replace(":", " ").split()}
    for workflow, run, amount, why in rows:
        assert {workflow, run, str(amount)} <= words, "\n".join(lines)
        assert set(why.split()) <= words


def test_a_sheet_that_fits_is_one_table_and_one_that_does_not_puts_details_under_rows() -> None:
    sheet = Sheet("probes", [Column("probe"), Column("verdict"), Column("sent", keep=False)])
    sheet.add_row("EVENT_REFERENCE", "holds", "POST /v1/sessions-profile twice, same reference")
    wide = printed(sheet, 120)
    assert any(line.split() == ["probe", "verdict", "sent"] for line in wide), wide
    narrow = printed(sheet, 40)
    assert [line.split() for line in narrow[1:3]] == [["probe", "verdict"],
                                                       ["EVENT_REFERENCE", "holds"]]  # fmt: skip
    assert narrow[3].startswith("    sent: POST")
    assert all(len(line) <= 40 for line in narrow)


def test_the_ledger_reads_at_80_columns() -> None:
    widest = LineResult(
        line_id=11,
        product_id="amendment-refund",
        description="",
        quantity=1,
        gross_amount=-1198000,
        authorized=-1198000,
        captured=-1198000,
        refunded=1198000,
        cancelled=1198000,
        reverses=10,
    )
    lines = printed(ledger_table([widest], "order K3X9QZ1AB"), 80)
    text = "\n".join(lines)
    assert "…" not in text  # nothing is cut
    for header in ("line", "reverses", "qty", "gross", "reserved", "captured", "refunded"):
        assert header in text
    assert "product: amendment-refund" in text  # under its row, whole
    assert text.count("1198000") == 5  # every amount whole
    assert all(len(line) <= 80 for line in lines)
