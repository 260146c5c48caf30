"""Rendering cost reports: Markdown, CSV and HTML carry the report's figures exactly."""

from __future__ import annotations

import base64
import csv
import functools
import io
import random
import struct
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

from grump.money.reports import (
    BreakdownRow,
    BudgetStatusRow,
    CostReport,
    DailyModelCost,
    ReportPeriod,
    Totals,
    render_csv,
    render_html,
    render_markdown,
)

MODELS = ("claude-sonnet-4-5", "moonshotai/kimi-k2.5", "nvidia/nv-embedqa-e5-v5")
HOSTILE_USER = '<script>alert("x")</script>, "quoted" | piped'


def seeded_report(seed: int = 7, days: int = 31) -> CostReport:
    """March 2024 for tenant acme: a daily series drawn from ``seed``, hand-picked totals."""
    rng = random.Random(seed)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    daily = [
        DailyModelCost(
            day=date(2024, 3, 1) + timedelta(days=offset),
            model=model,
            cost=Decimal(rng.randint(0, 40_000_000)) / Decimal(10**6) / (index + 1),
        )
        for offset in range(days)
        for index, model in enumerate(MODELS)
    ]
    return CostReport(
        tenant="acme",
        period=ReportPeriod.MONTH,
        start=start,
        end=datetime(2024, 4, 1, tzinfo=UTC),
        totals=Totals(
            cost=Decimal("1234.56785"),
            baseline=Decimal("3210.5"),
            cache_savings=Decimal("812.25"),
            routing_savings=Decimal("1163.68215"),
            requests=48_213,
            tokens_in=61_234_567,
            tokens_out=9_876_543,
        ),
        previous=Totals(
            cost=Decimal("1000"),
            baseline=Decimal("2500"),
            cache_savings=Decimal("500"),
            routing_savings=Decimal("1000"),
            requests=40_000,
            tokens_in=50_000_000,
            tokens_out=8_000_000,
        ),
        daily=daily,
        by_model=[
            BreakdownRow(MODELS[0], 9_000, 30_000_000, Decimal("901.2"), Decimal("120.5")),
            BreakdownRow(MODELS[1], 39_000, 40_000_000, Decimal("333.36785"), Decimal("1855.43")),
        ],
        by_kind=[
            BreakdownRow("complete", 40_000, 70_000_000, Decimal("1234.5"), Decimal("1975.9")),
            BreakdownRow("embed", 8_213, 1_111_110, Decimal("0.06785"), Decimal("0.0000000001")),
        ],
        by_tier=[
            BreakdownRow("premium", 9_000, 30_000_000, Decimal("901.2"), Decimal("120.5")),
            BreakdownRow("economy", 39_000, 40_000_000, Decimal("333.36785"), Decimal("1855.43")),
        ],
        top_users=[
            BreakdownRow("alice@acme.test", 20_000, 30_000_000, Decimal("700.1"), Decimal("9")),
            BreakdownRow(HOSTILE_USER, 3, 300, Decimal("0.00004"), Decimal(0)),
        ],
        budgets=[
            BudgetStatusRow(
                "tenant", "monthly", Decimal("1500"), Decimal("1234.56785"), start + timedelta(31)
            ),
            BudgetStatusRow(
                "user:alice@acme.test",
                "daily",
                Decimal("20"),
                Decimal("21.5"),
                datetime(2024, 4, 1, tzinfo=UTC),
            ),
        ],
        recommendations=["Premium models took 73.0% of spend.", "Set a per-user budget."],
        generated_at=datetime(2024, 4, 1, 6, 0, tzinfo=UTC),
    )


@functools.cache
def seeded_html() -> str:
    return render_html(seeded_report())


def empty_report() -> CostReport:
    return CostReport(
        tenant="quiet",
        period=ReportPeriod.DAY,
        start=datetime(2024, 3, 5, tzinfo=UTC),
        end=datetime(2024, 3, 6, tzinfo=UTC),
        totals=Totals.zero(),
    )


# Markdown


def test_markdown_shows_totals_trend_and_savings_to_the_tenth_of_a_cent() -> None:
    text = render_markdown(seeded_report())
    assert "# Cost report: acme, March 2024" in text
    assert "$1,234.5678" in text  # 1234.56785 rounds half-even to ...678
    assert "$3,210.5000" in text
    assert "$812.2500" in text and "$1,163.6822" in text
    assert "$1,975.9322" in text  # cache + routing
    assert "+23.5%" in text  # 1234.56785 against 1000
    assert "48,213" in text and "61,234,567" in text


def test_markdown_tables_show_every_breakdown_row_and_budget_status() -> None:
    text = render_markdown(seeded_report())
    assert "| claude-sonnet-4-5 | 9,000 | 30,000,000 | $901.2000 | 73.0% | $120.5000 |" in text
    assert "| tenant | monthly | $1,234.5678 | $1,500.0000 | 82.3% | alert |" in text
    assert "exceeded" in text
    assert "<$0.0001" in text.replace("\\<", "<")  # a tiny cost is not shown as $0.0000
    assert "- Set a per-user budget." in text


def _cells(line: str) -> list[str]:
    inner = line.strip()[1:-1].replace("\\|", "\0")
    return inner.split("|")


def test_markdown_escapes_pipes_so_every_table_row_keeps_its_columns() -> None:
    lines = render_markdown(seeded_report()).splitlines()
    tables: list[list[str]] = [[]]
    for line in lines:
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    assert len([t for t in tables if t]) == 7  # summary, daily, 4 breakdowns, budgets
    for table in filter(None, tables):
        assert len({len(_cells(row)) for row in table}) == 1, table[0]
    assert any("\\|" in line and "piped" in line for line in lines)
    assert not any("<script" in line.replace("\\<script", "") for line in lines)


def test_markdown_daily_table_has_a_row_per_day_and_a_column_per_model() -> None:
    report = seeded_report(days=31)
    lines = render_markdown(report).splitlines()
    day_rows = [line for line in lines if line.startswith("| 2024-03-")]
    assert len(day_rows) == 31
    assert all(len(_cells(row)) == len(MODELS) + 2 for row in day_rows)


def test_an_empty_report_renders_in_every_format() -> None:
    report = empty_report()
    text = render_markdown(report)
    assert "_Nothing in this period._" in text and "_No budget is set._" in text
    assert "Cost report: quiet, 2024-03-05" in text
    assert render_csv(report).count("\n") == 2  # header and current totals
    html = render_html(report)
    assert "No spend in this period." in html and "Nothing saved in this period." in html
    assert _parse(html).images == []


# CSV


def _csv_rows(report: CostReport) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(render_csv(report), newline="")))


def test_csv_totals_parse_back_to_the_same_decimals() -> None:
    report = seeded_report()
    rows = _csv_rows(report)
    current = next(r for r in rows if r["section"] == "totals" and r["key"] == "current")
    previous = next(r for r in rows if r["section"] == "totals" and r["key"] == "previous")
    for totals, row in ((report.totals, current), (report.previous, previous)):
        assert totals is not None
        assert Decimal(row["cost"]) == totals.cost
        assert Decimal(row["baseline"]) == totals.baseline
        assert Decimal(row["cache_savings"]) == totals.cache_savings
        assert Decimal(row["routing_savings"]) == totals.routing_savings
        assert Decimal(row["savings"]) == totals.savings
        assert int(row["requests"]) == totals.requests
        assert (int(row["tokens_in"]), int(row["tokens_out"])) == (
            totals.tokens_in,
            totals.tokens_out,
        )


def test_csv_daily_series_round_trips_exactly() -> None:
    report = seeded_report()
    rows = [r for r in _csv_rows(report) if r["section"] == "daily"]
    parsed = sorted((date.fromisoformat(r["day"]), r["key"], Decimal(r["cost"])) for r in rows)
    assert parsed == sorted((e.day, e.model, e.cost) for e in report.daily)


def test_csv_breakdowns_and_budgets_round_trip_with_awkward_names() -> None:
    report = seeded_report()
    rows = _csv_rows(report)
    for section, breakdown in report.breakdowns:
        parsed = [
            BreakdownRow(
                r["key"],
                int(r["requests"]),
                int(r["tokens"]),
                Decimal(r["cost"]),
                Decimal(r["savings"]),
            )
            for r in rows
            if r["section"] == section
        ]
        assert parsed == list(breakdown)
    budgets = [r for r in rows if r["section"] == "budget"]
    assert [
        (b["key"], b["budget_period"], Decimal(b["limit"]), Decimal(b["cost"])) for b in budgets
    ] == [(b.scope, b.period, b.limit, b.spent) for b in report.budgets]


def test_csv_never_writes_exponent_notation_and_names_tenant_and_period_on_every_row() -> None:
    report = replace(
        seeded_report(),
        daily=[DailyModelCost(date(2024, 3, 1), "tiny", Decimal("1E-10"))],
    )
    rows = _csv_rows(report)
    tiny = next(r for r in rows if r["key"] == "tiny")
    assert tiny["cost"] == "0.0000000001"
    assert {(r["tenant"], r["period"], r["period_start"]) for r in rows} == {
        ("acme", "month", "2024-03-01T00:00:00+00:00")
    }


# HTML


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _png_size(data_uri: str) -> tuple[int, int]:
    prefix = "data:image/png;base64,"
    assert data_uri.startswith(prefix)
    png = base64.b64decode(data_uri[len(prefix) :], validate=True)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_html_embeds_both_charts_as_png_images_with_alt_text() -> None:
    page = _parse(seeded_html())
    assert len(page.images) == 2
    for image in page.images:
        width, height = _png_size(image["src"] or "")
        assert width >= 600 and height >= 150
        assert image["alt"]
    alts = " ".join(image["alt"] or "" for image in page.images)
    assert "Spend per day" in alts and "saved" in alts


def test_html_shows_the_figures_and_escapes_names() -> None:
    html = seeded_html()
    text = " ".join(_parse(html).text)
    assert "$1,234.5678" in text and "+23.5% on the previous month" in text
    assert "$1,975.9322" in text and "61.5% of baseline" in text  # 1975.9322 / 3210.5
    assert HOSTILE_USER in text  # shown as text...
    assert "<script" not in html  # ...never as markup


def test_html_is_self_contained() -> None:
    html = seeded_html()
    page = _parse(html)
    assert "script" not in page.tags and "link" not in page.tags
    assert "http://" not in html and "https://" not in html
    assert all((image["src"] or "").startswith("data:") for image in page.images)


def test_html_marks_budgets_by_health() -> None:
    html = seeded_html()
    assert '<tr class="alert">' in html and '<tr class="exceeded">' in html


def test_many_models_still_chart() -> None:
    daily = [
        DailyModelCost(date(2024, 3, day), f"model-{m}", Decimal(m + day))
        for day in range(1, 4)
        for m in range(10)
    ]
    page = _parse(render_html(replace(seeded_report(), daily=daily)))
    assert len(page.images) == 2


def test_importing_reports_does_not_import_matplotlib() -> None:
    probe = "import sys, grump.money.reports; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_a_report_heads_with_both_baselines_and_shows_each_cause_and_parse_work_apart() -> None:
    totals = replace(
        seeded_report().totals,
        direct_baseline=Decimal("2000"),
        coalescing_savings=Decimal("10"),
        batch_savings=Decimal("5"),
        kept_off_llm=Decimal("77.7"),
    )
    report = replace(seeded_report(), totals=totals)
    text = render_markdown(report)
    # 812.25 + 10 + 1163.68215 + 5 against 3210.5; 2000 - 1234.56785 against 2000
    assert (
        "LLM and embedding spend avoided: $1,990.9322 (62.0% of the premium, uncached"
        " baseline) and $765.4322 (38.3%) against going direct with the clients' own cache"
        " breakpoints. Work kept off the LLM (parse jobs, at premium prices): $77.7000."
    ) in text
    for line in (
        "| Baseline (direct, the clients' own cache breakpoints) | $2,000.0000 |",
        "| Saved by coalescing | $10.0000 |",
        "| Saved by the batch discount | $5.0000 |",
        "| Saved against going direct | $765.4322 |",
        "| Work kept off the LLM (parse jobs at premium prices) | $77.7000 |",
    ):
        assert line in text, line
    current = next(r for r in _csv_rows(report) if r["key"] == "current")
    assert Decimal(current["direct_baseline"]) == Decimal("2000")
    assert Decimal(current["kept_off_llm"]) == Decimal("77.7")
    assert Decimal(current["savings"]) == Decimal("1990.93215")
