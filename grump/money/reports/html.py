"""A cost report as one self-contained HTML page: inline CSS, charts as base64 PNG.

The page needs nothing from the network, so it can be mailed, attached or
opened from disk. Every text that comes from data (tenant, user and model
names) is escaped.
"""

from __future__ import annotations

import base64
from html import escape

from grump.money.reports.charts import savings_png, spend_per_day_png
from grump.money.reports.formatting import (
    format_change,
    format_count,
    format_money,
    format_share,
    format_time,
    period_label,
)
from grump.money.reports.model import CostReport
from grump.money.reports.tables import (
    Table,
    breakdown_table,
    budget_table,
    daily_table,
    headline,
    summary_table,
)

_FOOTER = (
    "Amounts in USD. Two baselines, of LLM and embedding work only: the same requests on the"
    " premium model with no cache (neither grump's nor the provider's prompt cache), and sent"
    " direct to the premium model with the clients' own cache_control breakpoints (reads and"
    " writes as the provider bills them; a request without breakpoints goes uncached). Savings"
    " are what each cause kept off the first (a prompt-cache write's surcharge is part of"
    " spend); parse jobs are work kept off the LLM, a line of their own."
)

_CSS = """
:root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb;
  --accent: #0072B2; --good: #0b7a4b; --warn: #b25e00; --bad: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f7fa; color: var(--ink);
  font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 32px 24px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 0; color: var(--muted); }
.headline { font-size: 17px; margin: 16px 0 24px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-bottom: 24px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.card .label { color: var(--muted); font-size: 13px; }
.card .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .note { font-size: 13px; color: var(--muted); }
.card .note.up { color: var(--bad); } .card .note.down { color: var(--good); }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin-bottom: 16px; overflow-x: auto; }
section h2 { margin: 0 0 12px; font-size: 18px; }
img.chart { display: block; width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 13px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.key { word-break: break-word; }
tr.alert td { background: #fff4e0; } tr.exceeded td { background: #fde8e7; }
tr.alert td:nth-child(6) { color: var(--warn); font-weight: 600; }
tr.exceeded td:nth-child(6) { color: var(--bad); font-weight: 600; }
details summary { cursor: pointer; color: var(--accent); margin-top: 12px; }
.empty { color: var(--muted); font-style: italic; margin: 0; }
ul.advice { margin: 0; padding-left: 20px; } ul.advice li { margin: 4px 0; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
"""


def _cell_class(table: Table, column: int) -> str:
    return ' class="num"' if table.numeric[column] else ""


def _table(table: Table, *, heading: bool = True) -> str:
    title = f"<h2>{escape(table.title)}</h2>" if heading else ""
    if not table.rows:
        return f"{title}{_empty(table.empty_note)}"
    head = "".join(
        f"<th{_cell_class(table, i)}>{escape(name)}</th>" for i, name in enumerate(table.columns)
    )
    body = []
    for number, row in enumerate(table.rows):
        status = table.row_classes[number] if number < len(table.row_classes) else ""
        attrs = f' class="{escape(status)}"' if status else ""
        cells = "".join(
            f"<td{_cell_class(table, i)}>{escape(text)}</td>" for i, text in enumerate(row)
        )
        body.append(f"<tr{attrs}>{cells}</tr>")
    rows = "".join(body)
    return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="chart" src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def _card(label: str, value: str, note: str = "", note_class: str = "") -> str:
    note_html = f'<div class="note {note_class}">{escape(note)}</div>' if note else ""
    return (
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div>{note_html}</div>'
    )


def _trend_class(change: str) -> str:
    # More spend is the bad direction for a cost report.
    if change.startswith("+") or change == "new":
        return "up"
    return "down" if change.startswith("-") and change != "-" else ""


def _cards(report: CostReport) -> str:
    totals, previous = report.totals, report.previous
    trend = ""
    if previous is not None:
        trend = f"{format_change(totals.cost, previous.cost)} on the previous {report.period}"
    tokens_note = f"{format_count(totals.tokens_in)} in, {format_count(totals.tokens_out)} out"
    if totals.tokens_cache_read or totals.tokens_cache_write:
        tokens_note += (
            f"; {format_count(totals.tokens_cache_read)} in read from the prompt cache,"
            f" {format_count(totals.tokens_cache_write)} written to it"
        )
    saved_note = direct_note = ""
    if totals.baseline > 0:
        saved_note = (
            f"{format_share(totals.savings, totals.baseline)} of baseline (premium, no cache)"
        )
    if totals.direct_baseline > 0:
        direct_note = f"{format_share(totals.direct_savings, totals.direct_baseline)} of direct"
    cards = [
        _card("Spend", format_money(totals.cost), trend, _trend_class(trend)),
        _card("Saved", format_money(totals.savings), saved_note),
        _card("Saved against going direct", format_money(totals.direct_savings), direct_note),
        _card("Requests", format_count(totals.requests)),
        _card("Tokens", format_count(totals.tokens), tokens_note),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _empty(note: str) -> str:
    return f'<p class="empty">{escape(note)}</p>'


def _charts(report: CostReport) -> str:
    spend, saved = spend_per_day_png(report), savings_png(report)
    if spend is None:
        spend_html = _empty("No spend in this period.")
    else:
        days = _table(daily_table(report), heading=False)
        alt = f"Spend per day, stacked by model, {period_label(report)}"
        spend_html = (
            f"{_image(spend, alt)}<details><summary>Daily figures</summary>{days}</details>"
        )
    saved_html = (
        _empty("Nothing saved in this period.")
        if saved is None
        else _image(
            saved, "Money saved by the cache, by routing and by the provider's prompt cache"
        )
    )
    return (
        f"<section><h2>Spend per day</h2>{spend_html}</section>\n"
        f"<section><h2>Savings by source</h2>{saved_html}</section>"
    )


def _body(report: CostReport) -> str:
    total = report.totals.cost
    breakdowns = "".join(
        f"<section>{_table(breakdown_table(dimension, rows, total))}</section>\n"
        for dimension, rows in report.breakdowns
    )
    advice = "".join(f"<li>{escape(item)}</li>" for item in report.recommendations)
    advice_html = f'<ul class="advice">{advice}</ul>' if advice else _empty("Nothing to recommend.")
    return (
        f'<p class="headline">{escape(headline(report))}</p>\n'
        f"{_cards(report)}\n"
        f"<section><h2>Recommendations</h2>{advice_html}</section>\n"
        f"<section>{_table(budget_table(report))}</section>\n"
        f"{_charts(report)}\n"
        f"<section>{_table(summary_table(report))}</section>\n"
        f"{breakdowns}"
    )


def render_html(report: CostReport) -> str:
    """The report as a complete HTML document (UTF-8 text)."""
    title = f"Cost report: {report.tenant}, {period_label(report)}"
    span = f"{format_time(report.start)} to {format_time(report.end)}"
    if report.generated_at is not None:
        span += f", generated {format_time(report.generated_at)}"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header><h1>{escape(title)}</h1><p>{escape(span)}</p></header>
{_body(report)}<footer>{escape(_FOOTER)}</footer>
</main>
</body>
</html>
"""
