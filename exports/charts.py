"""Charts of a pattern of behaviour, as PNG and SVG, the same bytes on every run.

Drawn with matplotlib's Agg canvas on Figure objects (no pyplot, so no global
figure state), in DejaVu Sans (shipped with matplotlib) with text drawn as
paths, SVG element ids salted with a constant, and no creation date in either
format: the same report gives byte-identical files, so a chart in a case file
can be checked against its SHA-256 like any other exhibit product.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evidence_store.frequency import WEEKDAYS, FrequencyReport

_STYLE = {
    "svg.hashsalt": "conduct",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 11,
    "figure.dpi": 100,
    "savefig.dpi": 100,
}
#: Channel colours by position in the sorted channel list (colour-blind safe, Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000", "#999999")
_PNG_METADATA = {"Software": "Conduct"}
_SVG_METADATA = {"Creator": "Conduct", "Date": None}


@dataclass(frozen=True, slots=True)
class Chart:
    name: str
    png: Path
    svg: Path


def write_charts(report: FrequencyReport, directory: Path) -> list[Chart]:
    """Write every chart of ``report`` into ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    drawings: list[tuple[str, Callable[[FrequencyReport, Figure], None]]] = [
        ("contacts_per_day", _per_day),
        ("contacts_per_week", _per_week),
        ("hour_by_weekday", _heatmap),
        ("escalation", _escalation),
        ("calls_by_outcome", _calls),
    ]
    written = []
    with _style():
        for name, draw in drawings:
            figure = Figure(figsize=(11, 5), layout="constrained")
            FigureCanvasAgg(figure)
            draw(report, figure)
            png, svg = directory / f"{name}.png", directory / f"{name}.svg"
            figure.savefig(png, format="png", metadata=_PNG_METADATA)
            figure.savefig(svg, format="svg", metadata=_SVG_METADATA)
            written.append(Chart(name, png, svg))
    return written


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(cast(Any, _STYLE)):
        yield


def _title(report: FrequencyReport, what: str) -> str:
    return f"{report.case_ref}: {what}\n{report.scope.description}; times in {report.timezone}"


def _colours(report: FrequencyReport) -> dict[str, str]:
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(report.contacts.channels)}


def _stacked(axes: Any, labels: list[Any], series: dict[str, list[int]],
             colours: dict[str, str], width: float) -> None:
    bottom = [0] * len(labels)
    for channel, counts in series.items():
        axes.bar(labels, counts, width=width, bottom=bottom, label=channel,
                 color=colours[channel], linewidth=0)
        bottom = [a + b for a, b in zip(bottom, counts, strict=True)]
    if series:
        axes.legend(title="channel", loc="upper left", frameon=False)


def _per_day(report: FrequencyReport, figure: Figure) -> None:
    axes = figure.add_subplot()
    days: list[date] = []
    if report.per_day:
        first, last = min(report.per_day), max(report.per_day)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    colours = _colours(report)
    # Stacked steps, one filled shape per channel: a year of daily bars would be
    # thousands of rectangles, slow to draw and heavy in SVG, for the same picture.
    edges = [*days, days[-1] + timedelta(days=1)] if days else []
    below = [0] * len(edges)
    for channel in report.contacts.channels:
        counts = [report.per_day.get(d, {}).get(channel, 0) for d in days]
        above = [a + b for a, b in zip(below, [*counts, counts[-1]], strict=True)]
        # matplotlib converts dates itself; its stubs only admit arrays.
        axes.fill_between(edges, below, above, step="post",  # type: ignore[arg-type]
                          color=colours[channel], label=channel, linewidth=0)
        below = above
    if days:
        axes.legend(title="channel", loc="upper left", frameon=False)
    axes.set_title(_title(report, f"contacts per day ({report.total:,} in all)"))
    axes.set_ylabel("contacts per local day")
    axes.grid(axis="y", alpha=0.3)


def _per_week(report: FrequencyReport, figure: Figure) -> None:
    axes = figure.add_subplot()
    weeks = list(report.per_week)
    series = {c: [report.per_week[w].get(c, 0) for w in weeks] for c in report.contacts.channels}
    _stacked(axes, weeks, series, _colours(report), 0.8)
    axes.set_title(_title(report, "contacts per ISO week"))
    axes.set_ylabel("contacts per week")
    _thin_labels(axes, weeks)
    axes.grid(axis="y", alpha=0.3)


def _thin_labels(axes: Any, labels: list[str], most: int = 26) -> None:
    step = max(1, -(-len(labels) // most))
    axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=60, ha="right")


def _heatmap(report: FrequencyReport, figure: Figure) -> None:
    axes = figure.add_subplot()
    image = axes.imshow(report.heatmap, aspect="auto", cmap="Reds", interpolation="nearest")
    axes.set_yticks(range(7), list(WEEKDAYS))
    axes.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
    axes.set_xlabel("hour of the day (local)")
    night = set(report.options.night_hours)
    peak = max((max(row) for row in report.heatmap), default=0)
    for weekday, row in enumerate(report.heatmap):
        for hour, count in enumerate(row):
            if count:
                axes.text(hour, weekday, f"{count:,}", ha="center", va="center", fontsize=6,
                          color="white" if count > peak * 0.6 else "black")
    for hour in night:
        axes.axvspan(hour - 0.5, hour + 0.5, ymin=0, ymax=0.02, color="#000080")
    share = report.night_share
    shown = "no contacts" if share is None else f"{share:.0%} at night"
    axes.set_title(_title(report, f"contacts by hour and weekday ({shown}, night "
                                  f"{report.options.night_start:02d}:00-"
                                  f"{report.options.night_end:02d}:00 marked)"))
    figure.colorbar(image, ax=axes, label="contacts")


def _escalation(report: FrequencyReport, figure: Figure) -> None:
    axes = figure.add_subplot()
    trend = report.escalation
    x = list(range(len(trend.weeks)))
    axes.plot(x, trend.counts, color=PALETTE[0], label="contacts per week", linewidth=1.5)
    if trend.slope_per_week is not None and x:
        mean_x = sum(x) / len(x)
        mean_y = sum(trend.counts) / len(x)
        fitted = [mean_y + trend.slope_per_week * (v - mean_x) for v in x]
        axes.plot(x, fitted, color=PALETTE[0], linestyle="--", linewidth=1,
                  label=f"least-squares trend ({trend.slope_per_week:+.2f} per week)")
    axes.set_ylabel("contacts per week")
    flagged = report.flagged_escalation
    if flagged is not None:
        other = axes.twinx()
        other.plot(x, flagged.counts, color=PALETTE[5], label="flagged contacts per week",
                   linewidth=1.2)
        other.set_ylabel("flagged contacts per week")
        other.legend(loc="upper right", frameon=False)
    axes.legend(loc="upper left", frameon=False)
    _thin_labels(axes, list(trend.weeks))
    axes.set_title(_title(report, f"escalation: {trend.direction.replace('_', ' ')}"))
    axes.grid(axis="y", alpha=0.3)


def _calls(report: FrequencyReport, figure: Figure) -> None:
    axes = figure.add_subplot()
    outcomes = report.calls_by_outcome
    labels = [o.replace("_", " ") for o in outcomes]
    bars = axes.bar(labels, list(outcomes.values()), color=PALETTE[0])
    axes.bar_label(bars, labels=[f"{n:,}" for n in outcomes.values()])
    withheld = report.withheld_calls_in_scope
    unattributed = report.withheld_calls_unattributed
    axes.set_title(_title(report, f"calls by outcome ({withheld:,} from a withheld number; "
                                  f"{unattributed:,} more withheld calls not attributed)"))
    axes.set_ylabel("calls")
    axes.grid(axis="y", alpha=0.3)
