"""Charts of the pattern of behaviour (evidence_store.frequency, drawn by exports.charts).

The pictures are drawn once per distinct report (named by the SHA-256 of its
JSON) and served from the store's cache folder; the numbers behind them are
on the page as tables too, for screen readers and for checking.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from evidence_store import canonical_json, persons
from evidence_store.cases import CaseError
from evidence_store.contact_scope import ContactScope
from evidence_store.frequency import WEEKDAYS, AnalysisOptions, analyse
from exports.charts import write_charts
from web import access
from web.deps import ctx, log_view, render, viewer
from web.sessions import Viewer

router = APIRouter()

CHARTS = {
    "contacts_per_day": "Contacts per day",
    "contacts_per_week": "Contacts per week",
    "hour_by_weekday": "Contacts by hour of the day and day of the week",
    "escalation": "Escalation: contacts per week and trend",
    "calls_by_outcome": "Calls by outcome",
}
_TOKEN = re.compile(r"^[0-9a-f]{64}$")


def _scope(text: str) -> ContactScope:
    if text == "inbound":
        return ContactScope("inbound")
    if text.startswith("person:") and text[7:].isdigit():
        return ContactScope("person", int(text[7:]))
    return ContactScope("suspects")


def chart_dir(request: Request, case_id: int, token: str) -> Path:
    return ctx(request).store.root / "web-cache" / "charts" / str(case_id) / token


@router.get("/cases/{ref}/charts")
def charts_page(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)],
                scope: str = "suspects") -> Response:
    error = None
    report: dict[str, Any] | None = None
    token = None
    with ctx(request).store.session() as session:
        case = access.case_for(session, user, ref)
        people = persons.persons_of(session, case)
        try:
            analysis = analyse(session, case, AnalysisOptions(scope=_scope(scope)))
        except CaseError as exc:
            error = str(exc).replace("`conduct person add ... --role suspect`",
                                     "the People page")
        log_view(session, user, request, case, scope=scope)
    if error is None:
        report = analysis.as_json()
        token = hashlib.sha256(canonical_json.dumps_bytes(report)).hexdigest()
        target = chart_dir(request, case.id, token)
        if report["contacts"] and not target.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Drawn beside the target and renamed, so a half-drawn set is never served.
            scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".drawing-"))
            write_charts(analysis, scratch)
            # Another request may have drawn the same report first: then keep its set.
            with contextlib.suppress(OSError):
                scratch.rename(target)
            shutil.rmtree(scratch, ignore_errors=True)
    return render(request, "charts.html", {
        "case": case, "people": people, "scope": scope, "report": report, "error": error,
        "token": token, "charts": CHARTS, "weekdays": WEEKDAYS,
    })


@router.get("/cases/{ref}/charts/{token}/{name}.png")
def chart_image(request: Request, ref: str, token: str, name: str,
                user: Annotated[Viewer, Depends(viewer)]) -> Response:
    with ctx(request).store.session() as session:
        case = access.case_for(session, user, ref)
    if not _TOKEN.match(token) or name not in CHARTS:
        raise access.NotFound()
    path = chart_dir(request, case.id, token) / f"{name}.png"
    if not path.is_file():
        raise access.NotFound()
    return FileResponse(path, media_type="image/png")
