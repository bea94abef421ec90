"""The rating app: one secret link per reviewer, their own queue, nothing else.

Bound to 127.0.0.1 by default. Every route but the static files needs the reviewer's token;
anything else gets 403. Responses carry only the reviewer's own queue and their own ratings:
the key and automatic scores are not in the store at all (see ``db``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from eval.ratings.app import db

HERE = Path(__file__).parent
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


class RatingForm(BaseModel):
    """What the rating form posts; anything else is refused with a message naming the field."""

    model_config = ConfigDict(extra="forbid", strict=True)

    score_x: int = Field(ge=1, le=5)
    score_y: int = Field(ge=1, le=5)
    preference: Literal["x", "y", "tie_good", "tie_bad"]
    acceptable_x: bool = False
    acceptable_y: bool = False
    critical_x: bool = False
    critical_y: bool = False
    comment: str = Field(default="", max_length=5000)
    seconds: float | None = Field(default=None, ge=0)


def _forbidden() -> JSONResponse:
    return JSONResponse({"error": "this needs your personal rating link (unknown or missing token)"},
                        status_code=403, headers=NO_STORE)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"] if p != "body") or "form"
        parts.append(f"{field}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(parts)


def create_app(run_dir: Path, db_file: Path | None = None) -> FastAPI:
    """The app for one run; loads RUN/packets into the store (idempotent) before serving."""
    path = db_file or db.db_path(run_dir)
    db.load_packets(path, run_dir)
    app = FastAPI(title="support-eval rating", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=422, headers=NO_STORE)

    @app.get("/r/{token}", response_class=HTMLResponse)
    def page(request: Request, token: str):
        with db.connect(path) as conn:
            reviewer = db.reviewer_of(conn, token)
        if reviewer is None:
            return _forbidden()
        return templates.TemplateResponse(request, "rate.html", {"token": token, "reviewer": reviewer},
                                          headers=NO_STORE)

    @app.get("/api/{token}/queue")
    def get_queue(token: str):
        with db.connect(path) as conn:
            reviewer = db.reviewer_of(conn, token)
            if reviewer is None:
                return _forbidden()
            items = db.queue(conn, reviewer)
        return JSONResponse({"reviewer": reviewer, "items": items}, headers=NO_STORE)

    @app.put("/api/{token}/ratings/{rating_id}")
    def put_rating(token: str, rating_id: str, form: RatingForm):
        with db.connect(path) as conn:
            reviewer = db.reviewer_of(conn, token)
            if reviewer is None:
                return _forbidden()
            if not db.save(conn, reviewer, rating_id, form.model_dump()):
                return JSONResponse({"error": f"{rating_id} is not in your queue"}, status_code=404, headers=NO_STORE)
            done, total = db.progress(conn, reviewer)
        return JSONResponse({"saved": rating_id, "done": done, "total": total}, headers=NO_STORE)

    @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
    def anything_else(rest: str):
        return _forbidden()

    return app


def serve(run_dir: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    import uvicorn

    uvicorn.run(create_app(run_dir), host=host, port=port, log_level="warning")
