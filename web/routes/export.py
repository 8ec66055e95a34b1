"""The CPS bundle, built on request and handed over as a download."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from evidence_store.cases import CaseError
from exports.bundle import export_case
from web import access, csrf
from web.deps import ctx, log_view, render, viewer
from web.sessions import Viewer

router = APIRouter()


@router.get("/cases/{ref}/export")
def export_page(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)]
                ) -> Response:
    with ctx(request).store.session() as session:
        case = access.case_allowing(session, user, ref, "export", "export the case")
        log_view(session, user, request, case)
    return render(request, "export.html", {"case": case, "error": None})


@router.post("/cases/{ref}/export")
def export(request: Request, ref: str, user: Annotated[Viewer, Depends(viewer)],
           redact: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = ""
           ) -> Response:
    csrf.check(user, csrf_token)
    store = ctx(request).store
    work_root = store.root / "web-exports"
    work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=work_root, prefix="export-"))
    try:
        with store.session() as session:
            case = access.case_allowing(session, user, ref, "export", "export the case")
            name = f"{case.ref}-bundle{'-redacted' if redact else ''}.zip"
            result = export_case(session, store, case, work / name, user.actor,
                                 redact=bool(redact))
    except CaseError as exc:
        shutil.rmtree(work, ignore_errors=True)
        return render(request, "export.html", {"case": case, "error": str(exc)}, status=409)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    response = FileResponse(result.path, media_type="application/zip", filename=name,
                            background=BackgroundTask(shutil.rmtree, work, True))
    response.headers["x-bundle-sha256"] = result.sha256
    return response
