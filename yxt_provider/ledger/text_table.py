"""Plain-text tables for task logs, aligned for Chinese text as well.

A CJK character takes two columns in a terminal and in Airflow's log view; padding by
``len()`` counts it as one, so a label like ``failed (code 2: 空号)`` pushed its numbers two
columns left. ``rich`` (in every Airflow install) measures cells by East Asian width; it is
imported only when a table is drawn.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

__all__ = ["render_table"]


def render_table(title: str, rows: Sequence[Sequence[str]], *, right_aligned: Sequence[int] = ()) -> str:
    """Draw ``rows`` under ``title`` as plain text (no colours, no box characters beyond a rule).

    :param title: the heading line.
    :param rows: the cells, row by row (all rows the same length).
    :param right_aligned: indexes of the columns to right-align (numbers).
    """
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    columns = max((len(row) for row in rows), default=0)
    table = Table(box=None, show_header=False, show_edge=False, pad_edge=False, padding=(0, 2))
    for index in range(columns):
        table.add_column(justify="right" if index in right_aligned else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    out = io.StringIO()
    # A wide console: log lines are not wrapped by the viewer, and a wrapped table is unreadable.
    console = Console(file=out, width=200, color_system=None, force_terminal=False, highlight=False)
    console.print(table)
    body = [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
    rule = "-" * max(cell_len(line) for line in [title, *body])
    return "\n".join([title, rule, *body])
