"""Serve the explorer: ``/`` is its page, ``/explorer/...`` its scripts, styles and vendored libraries.

The files ship inside the package (``static/``), so ``pip install`` is all a deployment needs. They are
answered with ``Cache-Control: no-cache``: browsers keep them but revalidate (ETag, 304), so a new
release's modules are never mixed with an old one's.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from api.explorer.export import router as export_router

STATIC = Path(__file__).resolve().parent / "static"
REVALIDATE = {"Cache-Control": "no-cache"}


class _ExplorerFiles(StaticFiles):
    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers.update(REVALIDATE)
        return response


def _index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=REVALIDATE)


def mount_explorer(app: FastAPI) -> None:
    """The page at ``/``, its assets under ``/explorer/``, and the workbook export under ``/v1``."""
    app.add_api_route("/", _index, methods=["GET"], include_in_schema=False)
    app.mount("/explorer", _ExplorerFiles(directory=STATIC, follow_symlink=False), name="explorer")
    app.include_router(export_router)
