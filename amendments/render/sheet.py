"""A table that reads at any width: `Sheet`.

Printed where it fits whole (every cell on one line), a sheet is a rich table. Where it does not
(a narrow terminal, or a pipe, where rich assumes 80 columns), it degrades to fewer columns: the
columns marked `keep` stay on the row, aligned, and every other column's value goes under the
row, one `name: value` line each, wrapped between words. An id, an amount or a command is never
cut or split inside a word, and no line passes the width.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

INDENT = 4  # the details under a row, in the narrow layout


@dataclass(frozen=True)
class Column:
    name: str
    keep: bool = True  # stays on the row in the narrow layout (else goes under it)
    right: bool = False  # numbers: aligned right


@dataclass
class Sheet:
    title: str
    columns: Sequence[Column]
    rows: list[tuple[str | Text, ...]] = field(default_factory=list)
    frame: box.Box = box.SIMPLE_HEAD

    def add_row(self, *cells: str | Text) -> None:
        assert len(cells) == len(self.columns), (self.title, cells)
        self.rows.append(cells)

    def wide(self) -> Table:
        """Every column side by side, no cell wrapped."""
        table = Table(
            title=self.title,
            title_justify="left",
            box=self.frame,
            pad_edge=False,
            collapse_padding=True,
        )
        for column in self.columns:
            table.add_column(column.name, justify="right" if column.right else "left", no_wrap=True)
        for row in self.rows:
            table.add_row(*(_text(cell) for cell in row))
        return table

    def narrow(self, console: Console, width: int) -> Iterator[Text]:
        """The kept columns on the row, aligned; the others under it, one `name: value` line
        each, wrapped between words."""
        kept = [i for i, c in enumerate(self.columns) if c.keep]
        under = [i for i, c in enumerate(self.columns) if not c.keep]
        sizes = {
            i: max([len(self.columns[i].name), *(len(_plain(r[i])) for r in self.rows)])
            for i in kept
        }
        aligned = sum(sizes.values()) + 2 * (len(kept) - 1) <= width

        def line(cells: Sequence[str | Text]) -> Text:
            parts = []
            for n, i in enumerate(kept):
                cell = _text(cells[i])
                if aligned and (n < len(kept) - 1 or self.columns[i].right):
                    pad = " " * (sizes[i] - cell.cell_len)
                    cell = Text(pad) + cell if self.columns[i].right else cell + pad
                parts.append(cell)
            return Text("  ").join(parts)

        def wrapped(text: Text, indent: int = 0) -> Iterator[Text]:
            # Wrapped between words; only a word longer than a whole line folds (none of ours).
            for piece in text.wrap(console, width - indent, overflow="fold"):
                yield Text(" " * indent) + piece

        yield from wrapped(Text(self.title, style="italic"))
        yield from wrapped(line([Text(c.name, style="bold") for c in self.columns]))
        for row in self.rows:
            yield from wrapped(line(row))
            for i in under:
                if value := _plain(row[i]):
                    yield from wrapped(Text(f"{self.columns[i].name}: {value}"), INDENT)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = self.wide()
        width = options.max_width
        unbounded = options.update_width(1_000_000)  # a measure is cut at the width it is given
        if Measurement.get(console, unbounded, table).maximum <= width:
            yield table
        else:
            yield from self.narrow(console, width)
            yield Text("")


def _text(cell: str | Text) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)
