"""The rating app: one secret link per reviewer, their own queue, nothing else.

Bound to 127.0.0.1 by default. Every route but the static files needs the reviewer's token;
anything else gets 403. Responses carry only the reviewer's own queue and their own ratings:
the key and automatic scores are not in the store at all (see ``db``). The token is checked
before a body is read, bodies are capped, and errors name the field without repeating the
input, so a stranger or a runaway script can neither make the server hold large bodies nor get
them echoed back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from eval.ratings.app import db
from eval.ratings.guidelines import read_packet_guidelines
from eval.run.folder import RunFolder

HERE = Path(__file__).parent
MAX_BODY = 64 * 1024
"""A rating is a few hundred bytes; a 5,000-character comment fits many times over."""
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
SECURITY = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
"""On every response: only the app's own script and style run, even if a ticket's text got through."""


class RatingForm(BaseModel):
    """What the rating form posts; anything else is refused with a message naming the field."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    score_x: int = Field(ge=1, le=5)
    score_y: int = Field(ge=1, le=5)
    preference: Literal["x", "y", "tie_good", "tie_bad"]
    acceptable_x: bool = False
    acceptable_y: bool = False
    critical_x: bool = False
    critical_y: bool = False
    comment: str = Field(default="", max_length=5000)
    seconds: float | None = Field(default=None, ge=0, le=db.MAX_SECONDS)


class ReviewForm(BaseModel):
    """What the single-answer form posts: one answer's score, flags and comment."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    score: int = Field(ge=1, le=5)
    acceptable: bool = False
    critical: bool = False
    comment: str = Field(default="", max_length=5000)
    seconds: float | None = Field(default=None, ge=0, le=db.MAX_SECONDS)


class BodyTooLarge(Exception):
    """A request body over ``MAX_BODY``: answered 413 before it is read any further."""


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=NO_STORE)


def _forbidden() -> JSONResponse:
    return _error("this needs your personal rating link (unknown or missing token)", 403)


def validation_message(exc: ValidationError) -> str:
    """Each problem as "field: message"; the offending input is never repeated back."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused as soon as it passes ``limit`` (declared or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def create_app(run_dir: Path, db_file: Path | None = None) -> FastAPI:
    """The app for one run; loads RUN/packets into the store (idempotent) before serving."""
    path = db_file or db.db_path(run_dir)
    db.load_packets(path, run_dir)
    guidelines = read_packet_guidelines(RunFolder(Path(run_dir)).packets)
    app = FastAPI(title="support-eval rating", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY)
        return response

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    @app.get("/r/{token}", response_class=HTMLResponse)
    def page(request: Request, token: str) -> Response:
        reviewer = _reviewer_of(path, token)
        if reviewer is None:
            return _forbidden()
        return templates.TemplateResponse(request, "rate.html", {"token": token, "reviewer": reviewer,
                                                                 "guide": guidelines}, headers=NO_STORE)

    @app.get("/api/{token}/queue")
    def get_queue(token: str) -> Response:
        with db.connect(path) as conn:
            reviewer = db.reviewer_of(conn, token)
            if reviewer is None:
                return _forbidden()
            items = db.queue(conn, reviewer)
        return JSONResponse({"reviewer": reviewer, "items": items}, headers=NO_STORE)

    @app.put("/api/{token}/ratings/{rating_id}")
    async def put_rating(request: Request, token: str, rating_id: str) -> Response:
        return await _put(request, path, token, rating_id, RatingForm)

    @app.put("/api/{token}/reviews/{review_id}")
    async def put_review(request: Request, token: str, review_id: str) -> Response:
        return await _put(request, path, token, review_id, ReviewForm)

    @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
    def anything_else(rest: str) -> Response:
        return _forbidden()

    return app


def _reviewer_of(path: Path, token: str) -> str | None:
    with db.connect(path) as conn:
        return db.reviewer_of(conn, token)


async def _put(request: Request, path: Path, token: str, queue_id: str,
               model: type[RatingForm] | type[ReviewForm]) -> Response:
    """A rating (paired) or review (single) saved: the token checked before the body is read."""
    reviewer = await run_in_threadpool(_reviewer_of, path, token)
    if reviewer is None:
        return _forbidden()
    try:
        form = model.model_validate_json(await read_body(request))
    except BodyTooLarge:
        return _error(f"request body over {MAX_BODY // 1024} KiB", 413)
    except ValidationError as exc:
        return _error(validation_message(exc), 422)
    return await run_in_threadpool(_save, path, reviewer, queue_id, form)


def _save(path: Path, reviewer: str, rating_id: str, form: RatingForm | ReviewForm) -> Response:
    with db.connect(path) as conn:
        store = db.save if isinstance(form, RatingForm) else db.save_review
        if not store(conn, reviewer, rating_id, form.model_dump()):
            return _error(f"this {'rating' if isinstance(form, RatingForm) else 'review'} is not in your queue", 404)
        done, total = db.progress(conn, reviewer)
    return JSONResponse({"saved": rating_id, "done": done, "total": total}, headers=NO_STORE)


LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "::", "")


def machine_address() -> str:
    """This machine's address on its default route, for links others can open.

    Connecting a UDP socket sends nothing; it only asks the kernel which interface it would use.
    """
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
    except OSError:
        return socket.gethostbyname(socket.gethostname())


def reviewer_links(tokens: dict[str, str], host: str, port: int) -> tuple[dict[str, str], list[str]]:
    """Each reviewer's link as they can open it, and warnings about how it is exposed."""
    shown = machine_address() if host in WILDCARD else host
    netloc = f"[{shown}]" if ":" in shown else shown
    links = {reviewer: f"http://{netloc}:{port}/r/{token}" for reviewer, token in tokens.items()}
    warnings = []
    if host not in LOOPBACK:
        warnings.append(
            f"binding to {host or 'all interfaces'}: anyone who can reach {shown}:{port} and has a link can rate. "
            "The links carry each reviewer's token in clear text over plain HTTP: put TLS in front (a reverse "
            "proxy with HTTPS, e.g. Caddy or nginx, forwarding to this port) before sending them off this machine.")
    return links, warnings


def serve(run_dir: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    import uvicorn

    uvicorn.run(create_app(run_dir), host=host, port=port, log_level="warning")
