"""A cost report as Markdown (GitHub-flavoured tables), for chat and e-mail."""

from __future__ import annotations

import re

from grump.money.reports.formatting import format_time, period_label
from grump.money.reports.model import CostReport
from grump.money.reports.tables import Table, headline, report_tables

_MARKUP = re.compile(r"([\\|*_`\[\]#]|<(?=[A-Za-z/!?]))")  # "<" only where a tag could start


def _escape(text: str) -> str:
    """Text safe inside a table cell or a heading: no pipes, newlines, markup or tags."""
    return " ".join(_MARKUP.sub(r"\\\1", text).split())


def _table(table: Table) -> list[str]:
    lines = [f"## {table.title}", ""]
    if not table.rows:
        return [*lines, f"_{table.empty_note}_", ""]
    align = ["---:" if numeric else ":---" for numeric in table.numeric]
    lines.append("| " + " | ".join(_escape(c) for c in table.columns) + " |")
    lines.append("| " + " | ".join(align) + " |")
    lines.extend("| " + " | ".join(_escape(c) for c in row) + " |" for row in table.rows)
    return [*lines, ""]


def render_markdown(report: CostReport) -> str:
    """The report as a Markdown document: headline, tables and recommendations, user text escaped."""
    lines = [
        f"# Cost report: {_escape(report.tenant)}, {period_label(report)}",
        "",
        f"_{format_time(report.start)} to {format_time(report.end)}"
        + (f", generated {format_time(report.generated_at)}_" if report.generated_at else "_"),
        "",
        f"**{headline(report)}**",
        "",
    ]
    for table in report_tables(report):
        lines.extend(_table(table))
    lines.extend(["## Recommendations", ""])
    if report.recommendations:
        lines.extend(f"- {_escape(advice)}" for advice in report.recommendations)
    else:
        lines.append("_Nothing to recommend._")
    return "\n".join(lines) + "\n"
