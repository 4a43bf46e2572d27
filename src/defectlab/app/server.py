"""FastAPI app: the page, its assets, and a JSON API addressed by server-assigned image ids.

Routes are plain ``def`` functions: FastAPI runs them in its thread pool, so a
click waiting for an image's precompute never blocks the event loop.
"""

from __future__ import annotations

import getpass
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Body, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from ..data.io import list_images
from .labeller import AppError, Labeller, ReferenceFactory, SessionFactory
from .names import IMAGE_ID_PATTERN
from .security import MASK_BODY_LIMIT, TOKEN_COOKIE, SecurityMiddleware, token_matches
from .store import COCO_NAME, LabelStore

log = logging.getLogger("defectlab.app")
STATIC_DIR = Path(__file__).with_name("static")
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
# Formats every browser decodes; others (TIFF) are converted to PNG before sending.
BROWSER_FORMATS = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                   ".webp": "image/webp", ".bmp": "image/bmp"}

ImageId = PathParam(pattern=IMAGE_ID_PATTERN, description="id from /api/state")


class ClickIn(BaseModel):
    x: float
    y: float
    positive: bool = True


class MaskIn(BaseModel):
    size: tuple[int, int]
    counts: list[int]


class DefectTypeIn(BaseModel):
    defect_type: str | None = Field(default=None, max_length=200)


class FillIn(BaseModel):
    fill: bool


class OpenIn(BaseModel):
    prefetch: str | None = Field(default=None, pattern=IMAGE_ID_PATTERN)


def default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return os.environ.get("USER") or "unknown"


def create_app(
    images_dir: str | os.PathLike,
    normal_dir: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    session_factory: SessionFactory | None = None,
    reference_factory: ReferenceFactory | None = None,
    token: str | None = None,
    user: str | None = None,
    placement: str = "copy",
    trusted_hosts=None,
    exclude=None,
    max_normal: int | None = None,
    cache_size: int = 4,
    wait_timeout: float = 60.0,
    warm_up=None,
) -> FastAPI:
    """Build the labelling app; see ``defectlab label --help`` for what each option means.

    ``session_factory(image, reference, prompt)`` and
    ``reference_factory(normal_images)`` default to ADClick's ClickSession and
    NormalReference; tests pass fakes. ``warm_up()`` runs in the background
    when the server starts and prompts wait for it: ``ADClickEngine.warm_up``
    loads the text encoder (the default factories bring their own).
    ``trusted_hosts`` limits the Host header (the CLI passes the loopback
    names when bound to loopback).
    """
    images_dir = Path(images_dir)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(images_dir)
    images = list_images(images_dir, exclude=exclude)
    normals = evenly_spaced(list_images(normal_dir), max_normal)
    store = LabelStore(images_dir, out_dir, images, user or default_user(), placement)
    labeller = Labeller(store, normals, session_factory, reference_factory, cache_size, wait_timeout, warm_up)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        labeller.start()
        current = store.current or store.records[0]
        labeller.pool.request(current.id)  # start the model and the first image before the page asks
        yield
        labeller.close()

    app = FastAPI(title="defectlab label", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.labeller = labeller
    app.add_middleware(
        SecurityMiddleware,
        token=token,
        trusted_hosts=trusted_hosts,
        body_limits={"/mask": MASK_BODY_LIMIT},
    )
    _add_error_handlers(app)
    _add_page_routes(app, token)
    _add_api_routes(app, labeller)
    return app


def default_out_dir(images_dir: Path) -> Path:
    """Next to the images, never inside: ``parts/`` -> ``parts_labels/``."""
    images_dir = images_dir.resolve()
    return images_dir.parent / f"{images_dir.name}_labels"


def evenly_spaced(paths: list[Path], limit: int | None) -> list[Path]:
    if not limit or len(paths) <= limit:
        return paths
    step = len(paths) / limit
    return [paths[int(i * step)] for i in range(limit)]


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, err: AppError):
        return JSONResponse({"detail": err.message}, status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError):
        problems = []
        for e in err.errors()[:5]:
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "path", "query"))
            problems.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return JSONResponse({"detail": "invalid request: " + "; ".join(problems)}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception):
        log.exception("error while handling %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error: {type(err).__name__}: {err}"}, status_code=500)


def _add_page_routes(app: FastAPI, token: str | None) -> None:
    assets = {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in STATIC_TYPES}

    @app.get("/", include_in_schema=False)
    def index(token_param: str | None = Query(default=None, alias="token")):
        page = HTMLResponse((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
        page.headers["cache-control"] = "no-store"
        if token is not None and token_param is not None and token_matches(token, token_param):
            # The cookie carries the token for image requests, which cannot set headers.
            page.set_cookie(TOKEN_COOKIE, token_param, httponly=True, samesite="strict")
        return page

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        path = assets.get(name)  # a fixed list: nothing outside the folder can be named
        if path is None:
            return JSONResponse({"detail": "no such file"}, status_code=404)
        return FileResponse(path, media_type=STATIC_TYPES[path.suffix], headers={"cache-control": "no-cache"})


def _json(data) -> JSONResponse:
    """Straight to json.dumps: FastAPI's default encoder walks every run of a mask (~10x slower)."""
    return JSONResponse(data)


def _add_api_routes(app: FastAPI, lab: Labeller) -> None:
    store = lab.store

    def changed(id_: str, result: tuple) -> JSONResponse:
        annotation, state = result
        lab.drafts.schedule(id_, annotation)
        return _json(state)

    @app.get("/api/state")
    def state():
        current = store.current
        return _json({
            "images": [
                {
                    "id": r.id,
                    "name": r.name,
                    "status": store.status(r),
                    "defect_type": store.entry(r).get("defect_type"),
                    "unsaved": r.id in store.unsaved,
                }
                for r in store.records
            ],
            "progress": store.progress(),
            "current": current.id if current else None,
            "defect_types": store.defect_types,
            "user": store.user,
            "out_dir": str(store.out_dir),
            "warnings": store.warnings,
            "model": lab.model_state(),
        })

    @app.post("/api/images/{id_}/open")
    def open_image(id_: str = ImageId, body: OpenIn = Body(default_factory=OpenIn)):
        return _json(lab.open(id_, body.prefetch))

    @app.get("/api/images/{id_}")
    def image_info(id_: str = ImageId, wait: float = Query(default=0.0, ge=0.0, le=30.0)):
        return _json(lab.info(id_, wait=wait))

    @app.get("/api/images/{id_}/image")
    def image_pixels(id_: str = ImageId):
        record = lab.record(id_)
        headers = {"cache-control": "private, max-age=3600"}
        media = BROWSER_FORMATS.get(record.path.suffix.lower())
        if media is not None:
            return FileResponse(record.path, media_type=media, headers=headers)
        return Response(lab.converted_png(id_), media_type="image/png", headers=headers)

    @app.get("/api/images/{id_}/heatmap")
    def heatmap(id_: str = ImageId):
        return Response(lab.heatmap_png(id_), media_type="image/png", headers={"cache-control": "private, max-age=600"})

    @app.post("/api/images/{id_}/click")
    def click(body: ClickIn, id_: str = ImageId):
        return changed(id_, lab.click(id_, body.x, body.y, body.positive))

    @app.put("/api/images/{id_}/mask")
    def edit_mask(body: MaskIn, id_: str = ImageId):
        return changed(id_, lab.edit(id_, body.size, body.counts))

    @app.put("/api/images/{id_}/prompt")
    def prompt(body: DefectTypeIn, id_: str = ImageId):
        return changed(id_, lab.set_prompt(id_, body.defect_type))

    @app.put("/api/images/{id_}/fill")
    def fill(body: FillIn, id_: str = ImageId):
        return changed(id_, lab.set_fill(id_, body.fill))

    for action in ("undo", "redo", "reset"):
        _add_history_route(app, getattr(lab, action), action, changed)

    # The store has rewritten annotations_coco.json before any of these return.
    @app.post("/api/images/{id_}/save")
    def save(body: DefectTypeIn, id_: str = ImageId):
        annotation, result = lab.save(id_, body.defect_type)
        lab.drafts.schedule(id_, annotation)
        return _json({**result, "progress": store.progress(), "defect_types": store.defect_types})

    @app.post("/api/images/{id_}/no-defect")
    def no_defect(id_: str = ImageId):
        result = lab.no_defect(id_)
        annotation = lab.pool.peek(id_)
        if annotation is not None:
            lab.drafts.schedule(id_, annotation)
        return _json({**result, "progress": store.progress()})

    @app.post("/api/images/{id_}/skip")
    def skip(id_: str = ImageId):
        return _json({**lab.skip(id_), "progress": store.progress()})

    @app.post("/api/export/coco")
    def export_coco():
        return {"path": str(store.ensure_coco())}

    @app.get("/api/export/coco")
    def download_coco():
        return FileResponse(store.ensure_coco(), media_type="application/json", filename=COCO_NAME)


def _add_history_route(app: FastAPI, method, action: str, changed) -> None:
    def route(id_: str = ImageId):
        return changed(id_, method(id_))

    route.__name__ = action
    app.post(f"/api/images/{{id_}}/{action}")(route)
