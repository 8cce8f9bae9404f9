"""The FastAPI application: models load once in the lifespan, routes live in their own modules."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from paperlens import __version__
from paperlens.config import Settings, load_settings
from paperlens.engine import Engine
from paperlens.errors import LibraryLockedError, StoreUnavailableError
from paperlens.index.writer_lock import WriterLock
from paperlens.ingest.probe import warm_up as warm_up_probe
from paperlens.service import routes_documents, routes_query
from paperlens.service.app_state import engine_of
from paperlens.service.errors import install_error_handlers
from paperlens.service.jobs import JobRunner
from paperlens.service.urls import element_image_url

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def _warm_up(load, what: str) -> None:
    try:
        load()
    except Exception:  # the first request that needs it will report it properly, with its error code
        log.exception("could not preload the %s", what)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or (engine.settings if engine else load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own_engine = engine is None
        # One writer per library: `paperlens ingest` on this data directory refuses while the service runs.
        writer_lock = WriterLock(settings.data_dir)
        try:
            writer_lock.acquire("a paperlens service")
        except LibraryLockedError as exc:
            log.warning("%s", exc.message)
        app.state.engine = engine or Engine(settings)
        app.state.engine.retriever.image_url_for = element_image_url  # hits link to this API's crops
        app.state.runner = JobRunner(app.state.engine)
        app.state.runner.start()
        # The upload probe's fork server imports PyMuPDF; started now, the first upload does not wait on it.
        threading.Thread(target=warm_up_probe, name="paperlens-probe-warm-up", daemon=True).start()
        load_answer_model = getattr(app.state.engine.generator, "load", None)
        if own_engine and load_answer_model is not None:
            # A local answer model takes 20-40 s to load on a CPU: do it now, not on the first question.
            threading.Thread(
                target=_warm_up, args=(load_answer_model, "answer model"), name="paperlens-llm", daemon=True
            ).start()
        if own_engine:
            # The first query builds the ONNX query encoder (an export of seconds on a new data dir, a load
            # of about one after) and the first upload would start the parser workers: done now instead.
            threading.Thread(
                target=_warm_up,
                args=(app.state.engine.warm_up, "query encoder and ingestion workers"),
                name="paperlens-warm-up",
                daemon=True,
            ).start()
        try:
            yield
        finally:
            app.state.runner.stop()
            if own_engine:
                app.state.engine.close()
            writer_lock.release()

    app = FastAPI(
        title="paperlens",
        version=__version__,
        description="Multimodal question answering over scientific papers: upload PDFs, search, ask, "
        "get answers cited to the page, figure, table and formula.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(routes_documents.router)
    app.include_router(routes_query.router)

    @app.get(
        "/v1/health",
        tags=["system"],
        summary="Which backends are active, with which models; which store, and whether it can be reached",
        responses={503: {"description": "the store cannot be reached (code store_unavailable)"}},
    )
    def health(request: Request):
        engine = engine_of(request)
        try:
            report = engine.health()
        except StoreUnavailableError as exc:
            # A load balancer takes this replica out of rotation; the body says why.
            body = {
                "status": "unavailable",
                "version": __version__,
                "store": engine.store.describe(),
                "error": {"code": exc.code, "message": exc.message},
            }
            return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
        if request.app.state.settings.api_keys:
            # Health answers without a key (load balancers, the web page), so with tenants it must not tell
            # anyone how much the others have stored: backends and store kind only.
            report = {k: v for k, v in report.items() if k in ("status", "version", "backends", "store")}
        return report

    if (STATIC_DIR / "index.html").is_file():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

        @app.get("/", include_in_schema=False)
        def index():
            return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    return app
