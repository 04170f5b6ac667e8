"""The HTTP API: the CLI's commands as jobs, over FastAPI, under ``/abysz-lab/v1``.

Routes (all JSON)::

    GET  /abysz-lab/v1/version              {"version": "0.2.0", "api": 1}
    GET  /abysz-lab/v1/params               JSON schema of every parameter class, and each job kind's fields
    GET  /abysz-lab/v1/presets              the deflicker presets
    POST /abysz-lab/v1/jobs                 {"kind": "stabilise", "source": ..., "generated": ..., "out": ...}
    GET  /abysz-lab/v1/jobs                 every job, oldest first
    GET  /abysz-lab/v1/jobs/{id}            state, phase, progress, figures, files written, error
    POST /abysz-lab/v1/jobs/{id}/cancel
    POST /abysz-lab/v1/preview-masks        masks of a few frames as base64 PNG

A job's fields are the command's CLI options, dashes as underscores
(``--frames-limit`` -> ``frames_limit``, positionals by name): see
:mod:`abysz_lab.job_requests`, which parses them with the CLI's own parser,
so ``python -m abysz_lab <kind> --help`` documents the API. Bodies are plain dicts (no
pydantic models), so one code path serves FastAPI 0.94/pydantic 1 (A1111) and
0.104+/pydantic 2 (Forge). A bad request gets 422 with the field and the
reason; nothing answers 500 with a traceback.

Standalone: ``python -m abysz_lab api [--port] [--listen] [--auth USER:PASS]``.
Inside A1111 the routes are added to the WebUI's app from
``on_app_started`` when it runs with ``--api`` (see :func:`register_webui`).
"""

# No "from __future__ import annotations": FastAPI reads the route parameters' annotations (Request) at run time.

import argparse
import base64
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from abysz_lab import __version__
from abysz_lab import params as prm
from abysz_lab.errors import AbyszError, InputError, MissingDependencyError
from abysz_lab.job_requests import (
    KINDS,
    RequestError,
    check_derived_path,
    check_paths,
    field_in,
    job_fields,
    submit_job,
)
from abysz_lab.jobqueue import JobConflictError, JobNotFoundError, JobQueue, default_queue

PREFIX = "/abysz-lab/v1"
API_VERSION = 1


# --- route bodies --------------------------------------------------------------------------------------


def params_schema() -> dict[str, Any]:
    """The JSON schema of every parameter class, and the fields of each job kind (with their CLI help)."""
    from abysz_lab.analysis import AnalysisParams
    from abysz_lab.dfi import DFIParams
    from abysz_lab.fuse import FuseParams
    from abysz_lab.playground import PlaygroundParams
    from abysz_lab.video import AssembleParams, CompareParams, ExtractParams

    classes = [DFIParams, PlaygroundParams, ExtractParams, AssembleParams, CompareParams, FuseParams, AnalysisParams]
    kinds = {}
    for kind in KINDS:
        fields = {}
        for name, action in job_fields(kind).items():
            fields[name] = {
                "required": bool(action.required or not action.option_strings),
                "help": (action.help or "").replace("%%", "%"),
                "flag": max(action.option_strings, key=len) if action.option_strings else None,
            }
        kinds[kind] = fields
    return {"params": {cls.__name__: prm.json_schema(cls) for cls in classes}, "jobs": kinds}


def presets_list() -> list[dict[str, Any]]:
    """The deflicker presets, as ``deflicker --list-presets`` shows them."""
    from dataclasses import asdict

    from abysz_lab.playground import list_presets

    return [asdict(info) for info in list_presets()]


PREVIEW_FIELDS = {"source", "generated", "out", "frames", "count"}


def preview_masks_body(body: Any) -> dict[str, Any]:
    """Masks (and masks over the source) of a few frames as base64 PNG; nothing is written for frame folders."""
    import cv2

    from abysz_lab import pipeline
    from abysz_lab.dfi import DFIParams, preview_masks

    if not isinstance(body, dict):
        msg = "The request body must be a JSON object."
        raise RequestError(msg)
    names = {s.name for s in prm.specs(DFIParams)}
    unknown = sorted(set(body) - names - PREVIEW_FIELDS)
    if unknown:
        valid = ", ".join(sorted(names | PREVIEW_FIELDS))
        msg = f"Unknown field(s) for preview-masks: {', '.join(unknown)}. Valid: {valid}."
        raise RequestError(msg, unknown[0])
    for name in ("source", "generated"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            msg = f"{name} is required: a frames folder or a video path."
            raise RequestError(msg, name)
    try:
        params = prm.from_mapping(DFIParams, {k: v for k, v in body.items() if k in names})
    except InputError as exc:
        raise RequestError(str(exc), field_in(str(exc))) from exc
    frames = body.get("frames")
    numbers_ok = isinstance(frames, list) and all(type(f) is int and f >= 1 for f in frames)
    if frames is not None and not numbers_ok:
        msg = "frames must be a list of frame numbers (whole numbers >= 1, frame_00001 is 1)."
        raise RequestError(msg, "frames")
    count = body.get("count", 4)
    if not isinstance(count, int) or not 1 <= count <= 16:
        msg = "count must be a whole number between 1 and 16."
        raise RequestError(msg, "count")
    namespace = argparse.Namespace(**{k: body.get(k) for k in ("source", "generated", "out")})
    check_paths(namespace)
    source, generated = Path(body["source"]), Path(body["generated"])
    if any(pipeline.is_video_input(p) for p in (source, generated)):
        if not body.get("out"):
            msg = "Video inputs are extracted into <out>_work: give out as well."
            raise RequestError(msg, "out")
        work = pipeline.work_folder(Path(body["out"]))
        check_derived_path(work, "the work folder beside the output")
        folders = pipeline.prepare_inputs(source, generated, work).folders
        source, generated = folders["source"], folders["generated"]
    # Frame numbers count from 1, as the CLI's --preview-frames and the tab's box do (extracted files too).
    indices = [n - 1 for n in frames] if frames else None
    items = preview_masks(source, generated, params, indices=indices, count=count)

    def png(image: Any) -> str:
        ok, data = cv2.imencode(".png", image)
        if not ok:
            msg = "Could not encode a mask preview as PNG."
            raise InputError(msg)
        return base64.b64encode(data.tobytes()).decode("ascii")

    masks = [
        {
            "number": i.number,
            "index": i.index,
            "name": i.name,
            "held_pct": i.held_pct,
            "mask_png": png(i.mask),
            "overlay_png": png(i.overlay),
        }
        for i in items
    ]
    return {"masks": masks}


# --- FastAPI ---------------------------------------------------------------------------------------------


def _error_response(exc: Exception) -> Any:
    from fastapi.responses import JSONResponse

    if isinstance(exc, JobNotFoundError):
        return JSONResponse({"detail": str(exc)}, status_code=404)
    if isinstance(exc, JobConflictError):
        return JSONResponse({"detail": str(exc)}, status_code=409)
    if isinstance(exc, RequestError):
        return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=exc.status)
    if isinstance(exc, MissingDependencyError):
        return JSONResponse({"detail": str(exc)}, status_code=503)
    if isinstance(exc, AbyszError):
        return JSONResponse({"detail": str(exc), "field": field_in(str(exc))}, status_code=422)
    # Never a traceback to the client: one line, and the server's log has the rest.
    return JSONResponse({"detail": f"Unexpected error ({type(exc).__name__}): {exc}"}, status_code=500)


def _answer(make: Callable[[], Any], status: int = 200) -> Any:
    from fastapi.responses import JSONResponse

    try:
        return JSONResponse(make(), status_code=status)
    except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer, never a traceback page
        return _error_response(exc)


async def _json_body(request: Any) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    import json

    try:
        return json.loads(raw)
    except ValueError as exc:
        msg = f"The request body is not valid JSON: {exc}."
        raise RequestError(msg) from exc


def make_router(queue: JobQueue | None = None, dependencies: Sequence[Any] = ()) -> Any:
    """The API's routes on a FastAPI APIRouter (prefix included); ``dependencies`` guard every route."""
    from fastapi import APIRouter, Request

    router = APIRouter(prefix=PREFIX, dependencies=list(dependencies))

    def jobs() -> JobQueue:
        return queue or default_queue()

    @router.get("/version")
    def version():
        return _answer(lambda: {"version": __version__, "api": API_VERSION})

    @router.get("/params")
    def params():
        return _answer(params_schema)

    @router.get("/presets")
    def presets():
        return _answer(presets_list)

    @router.post("/jobs")
    async def submit(request: Request):
        try:
            body = await _json_body(request)
        except RequestError as exc:
            return _error_response(exc)

        def made() -> dict[str, Any]:
            job = submit_job(body, jobs())
            # notes: what the CLI prints as "note: ..." before it runs (a field the chosen preset ignores).
            return {"id": job.id, "state": job.state, "queued_behind": jobs().ahead_of(job), "notes": list(job.notes)}

        return _answer(made, status=202)

    @router.get("/jobs")
    def list_jobs():
        return _answer(lambda: {"jobs": [j.as_dict() for j in jobs().jobs()]})

    @router.get("/jobs/{id}")
    def get_job(id: str):  # noqa: A002 - the path parameter is named as the README documents it
        def found() -> dict[str, Any]:
            job = jobs().get(id)
            return job.as_dict() | {"queued_behind": jobs().ahead_of(job)}

        return _answer(found)

    @router.post("/jobs/{id}/cancel")
    def cancel_job(id: str):  # noqa: A002 - as above
        return _answer(lambda: jobs().cancel(id).as_dict())

    @router.post("/preview-masks")
    async def preview(request: Request):
        try:
            body = await _json_body(request)
        except RequestError as exc:
            return _error_response(exc)
        from starlette.concurrency import run_in_threadpool

        # Masks (and a video's extraction) take seconds: off the event loop, so polling and Cancel still answer.
        return await run_in_threadpool(_answer, lambda: preview_masks_body(body))

    return router


def create_app(
    *,
    credentials: Any = None,
    bind_host: str = "127.0.0.1",
    extra_hosts: Sequence[str] = (),
    queue: JobQueue | None = None,
) -> Any:
    """A FastAPI app serving only the API, behind the Host/Origin guard (and HTTP Basic auth when given)."""
    from fastapi import FastAPI

    from abysz_lab.access import HostRules, RequestGuard

    app = FastAPI(
        title="Abysz LAB API",
        version=__version__,
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{PREFIX}/openapi.json",
    )
    app.include_router(make_router(queue))
    rules = HostRules.for_bind(bind_host, extra_hosts=extra_hosts)
    app.add_middleware(RequestGuard, rules=rules, credentials=credentials, basic_auth_paths=(PREFIX,))
    return app


def add_to_app(
    app: Any,
    *,
    credentials: Any = None,
    bind_host: str = "127.0.0.1",
    queue: JobQueue | None = None,
    extra_hosts: tuple[str, ...] = (),
) -> None:
    """Add the API's routes to an app that is not ours (gradio's, A1111's), guarded per route.

    ``extra_hosts``: the names the server also answers to (``ui --allowed-host``).
    """
    from fastapi import Depends

    from abysz_lab.access import HostRules, guard_dependency

    rules = HostRules.for_bind(bind_host, extra_hosts=extra_hosts)
    app.include_router(make_router(queue, dependencies=[Depends(guard_dependency(rules, credentials))]))


def webui_credentials(api_auth: str | None) -> Any:
    """Credentials from A1111's ``--api-auth user:pass,user2:pass2`` (None when not set)."""
    from abysz_lab.access import Credentials

    if not api_auth:
        return None
    # A1111 splits --api-auth at commas and strips the quotes some shells leave around each pair.
    return Credentials.parse(*(part.strip().strip('"') for part in api_auth.split(",") if part.strip()))


def register_webui(app: Any, cmd_opts: Any) -> bool:
    """Add the API to A1111's app when it runs with ``--api``, guarded by ``--api-auth``; False when not added.

    Reads the flags by name (``api``, ``api_auth``, ``listen``, ``server_name``), as A1111's own API does.
    """
    if not getattr(cmd_opts, "api", False):
        return False
    from abysz_lab.access import GRADIO_SHARE_HOSTS

    listen = getattr(cmd_opts, "listen", False)
    bind = "0.0.0.0" if listen else (getattr(cmd_opts, "server_name", None) or "127.0.0.1")  # noqa: S104
    tunnels = GRADIO_SHARE_HOSTS if getattr(cmd_opts, "share", False) else ()  # --share: *.gradio.live hosts
    add_to_app(
        app, credentials=webui_credentials(getattr(cmd_opts, "api_auth", None)), bind_host=bind, extra_hosts=tunnels
    )
    return True


def serve(
    *, host: str = "127.0.0.1", port: int = 7870, credentials: Any = None, extra_hosts: Sequence[str] = ()
) -> None:
    """Serve the API alone with uvicorn (no gradio) until interrupted."""
    try:
        import uvicorn
    except ImportError as exc:
        msg = "The HTTP API needs uvicorn and fastapi: pip install uvicorn fastapi"
        raise MissingDependencyError(msg) from exc
    _check_port_free(host, port)
    app = create_app(credentials=credentials, bind_host=host, extra_hosts=extra_hosts)
    print(f"Abysz LAB API on http://{host}:{port}{PREFIX}/ (docs at {PREFIX}/docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _check_port_free(host: str, port: int) -> None:
    """InputError when ``port`` cannot be bound: uvicorn would log it and exit 3, our "missing dependency" code."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a closing socket is no clash
        try:
            probe.bind((host, port))
        except OSError as exc:
            msg = (
                f"Port {port} is already in use (or needs admin rights: ports below 1024). "
                "Stop the other server or choose another --port."
            )
            raise InputError(msg) from exc
