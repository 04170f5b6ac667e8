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
(``--frames-limit`` -> ``frames_limit``, positionals by name): the request is
turned into the command line and parsed by the CLI's own parser, so ranges,
choices and defaults are checked in exactly one place, and ``python -m
abysz_lab <kind> --help`` documents the API. Bodies are plain dicts (no
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
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from abysz_lab import __version__
from abysz_lab import params as prm
from abysz_lab.errors import AbyszError, InputError, MissingDependencyError
from abysz_lab.jobqueue import Job, JobConflictError, JobNotFoundError, JobQueue, default_queue

PREFIX = "/abysz-lab/v1"
API_VERSION = 1
KINDS = ("stabilise", "dfi", "deflicker", "extract", "assemble", "compare", "analyze")
# CLI options that are no job fields: they print or preview instead of running.
NOT_JOB_FIELDS = {"dfi": {"preview_masks", "preview_frames"}, "deflicker": {"list_presets"}}
# Fields holding paths: checked against the access policy before a job is queued.
PATH_FIELDS = {
    "source",
    "generated",
    "out",
    "input",
    "video",
    "frames",
    "folders",
    "style",
    "output",
    "report",
    "timing",
    "audio_from",
    "presets_dir",
}


class RequestError(InputError):
    """A request the API refuses; ``field`` names the offending field when there is one."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


# --- job fields from the CLI's parsers ------------------------------------------------------------------


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print and exit
        raise RequestError(message, _field_in(message))


def _field_in(message: str) -> str | None:
    """The field an argparse or parameter message is about: ``--frames-limit`` -> ``frames_limit``."""
    found = re.search(r"--([a-z][a-z0-9-]*)", message) or re.search(r"argument ([a-z_]+)", message)
    found = found or re.search(r"\(([a-z_]+)\) must", message)
    if found is None:
        found = re.search(r"required: ([a-z_]+)", message)
    return found.group(1).replace("-", "_") if found else None


def _command_parsers() -> dict[str, argparse.ArgumentParser]:
    from abysz_lab import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    return {kind: sub.choices[kind] for kind in KINDS}


_PARSERS: dict[str, argparse.ArgumentParser] | None = None


def command_parser(kind: str) -> argparse.ArgumentParser:
    """The CLI parser of one command, made to raise RequestError instead of exiting."""
    global _PARSERS  # built once: building imports every processing module
    if _PARSERS is None:
        _PARSERS = _command_parsers()
    parser = _PARSERS[kind]
    parser.__class__ = _RaisingParser  # only error() differs
    return parser


def _field_name(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.dest
    longest = max(action.option_strings, key=len)
    if isinstance(action, argparse.BooleanOptionalAction):
        longest = next(o for o in action.option_strings if not o.startswith("--no-"))
    return longest.lstrip("-").replace("-", "_")


def job_fields(kind: str) -> dict[str, argparse.Action]:
    """``field name -> argparse action`` of a job kind (the CLI options, dashes as underscores)."""
    skip = NOT_JOB_FIELDS.get(kind, set())
    fields = {}
    for action in command_parser(kind)._actions:  # noqa: SLF001 - the parser is our own
        if isinstance(action, argparse._HelpAction):  # noqa: SLF001
            continue
        name = _field_name(action)
        if name not in skip:
            fields[name] = action
    return fields


def _argv_for(kind: str, body: dict[str, Any]) -> list[str]:
    """The command line that a job request stands for (values checked for their JSON type)."""
    fields = job_fields(kind)
    unknown = sorted(set(body) - set(fields))
    if unknown:
        msg = f"Unknown field(s) for a {kind} job: {', '.join(unknown)}. Valid: {', '.join(sorted(fields))}."
        raise RequestError(msg, unknown[0])
    positional: list[str] = []
    options: list[str] = []
    for name, value in body.items():
        action = fields[name]
        if value is None:
            continue
        flag = next((o for o in action.option_strings if o.startswith("--")), None)
        if isinstance(action, argparse.BooleanOptionalAction):
            _need_bool(name, value)
            options.append(flag if value else f"--no-{flag[2:]}")
        elif action.nargs == 0:  # store_true
            _need_bool(name, value)
            if value:
                options.append(flag)
        elif action.nargs == "+":
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                msg_0 = f"{name} must be a non-empty list of paths."
                raise RequestError(msg_0, name)
            positional.extend(value)
        elif action.nargs == "?" and value is True:
            options.append(flag)
        else:
            if isinstance(value, (dict, list, bool)):
                kind_text = "a number" if action.type in (int, float) else "a string or number"
                msg_0 = f"{name} must be {kind_text}, got {type(value).__name__}."
                raise RequestError(msg_0, name)
            if flag is None:
                positional.append(str(value))
            else:
                options.append(f"{flag}={value}")
    return positional + options


def _need_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        msg = f"{name} must be true or false, got {value!r}."
        raise RequestError(msg, name)


def parse_job(body: Any) -> tuple[str, argparse.Namespace, dict[str, Any]]:
    """Check a job request; return (kind, the CLI namespace, the request without ``kind``)."""
    if not isinstance(body, dict):
        msg = "The request body must be a JSON object."
        raise RequestError(msg)
    fields = dict(body)
    kind = fields.pop("kind", None)
    if kind == "stabilize":
        kind = "stabilise"
    if kind not in KINDS:
        msg = f"kind must be one of {', '.join(KINDS)}; got {kind!r}."
        raise RequestError(msg, "kind")
    argv = _argv_for(kind, fields)
    namespace = command_parser(kind).parse_args(argv)
    _check_params(kind, namespace)
    return kind, namespace, fields


def _param_classes(kind: str) -> list[type]:
    from abysz_lab.analysis import AnalysisParams
    from abysz_lab.dfi import DFIParams
    from abysz_lab.video import AssembleParams, CompareParams, ExtractParams

    return {
        "stabilise": [DFIParams],
        "dfi": [DFIParams],
        "deflicker": [],  # checked against the chosen preset when the job runs... and below
        "extract": [ExtractParams],
        "assemble": [AssembleParams],
        "compare": [CompareParams],
        "analyze": [AnalysisParams],
    }[kind]


def _check_params(kind: str, namespace: argparse.Namespace) -> None:
    """Build the parameter objects now, so a bad value is a 422 at submission, not a failed job later."""
    for cls in _param_classes(kind):
        try:
            prm.from_namespace(cls, namespace)
        except InputError as exc:
            raise RequestError(str(exc), _field_in(str(exc))) from exc
    if kind == "deflicker":
        from abysz_lab.playground import PlaygroundParams

        given = {s.name: getattr(namespace, s.name) for s in prm.specs(PlaygroundParams)}
        given = {k: v for k, v in given.items() if v is not None}
        try:
            prm.from_mapping(PlaygroundParams, given)
        except InputError as exc:
            raise RequestError(str(exc), _field_in(str(exc))) from exc


def _checked_paths(namespace: argparse.Namespace) -> None:
    """Refuse paths outside the folders this server may use (the access policy)."""
    from abysz_lab.access import current_policy

    policy = current_policy()
    for name in PATH_FIELDS:
        value = getattr(namespace, name, None)
        if not value:
            continue
        try:
            for item in value if isinstance(value, list) else [value]:
                policy.check_path(item, f"the {name} path")
        except InputError as exc:
            raise RequestError(str(exc), name, status=403) from exc


# --- what each kind of job runs -----------------------------------------------------------------------


def _summary_result(summary: Any) -> dict[str, Any]:
    files = [{"what": summary.operation, "path": str(p)} for p in summary.outputs[: summary.written]]
    return {
        "summary": summary.describe(),
        "files": files,
        "figures": {
            "written": summary.written,
            "total": summary.total,
            "resumed_from": summary.resumed_from,
            "seconds": round(summary.seconds, 3),
        },
        "warnings": list(summary.warnings),
    }


def _reporter(job: Job, phase: str) -> Callable[[Any], None]:
    return lambda p: job.report(phase, p)


def _phase_reporter(job: Job) -> Callable[[Any], None]:
    return lambda r: job.report(r.phase, r.progress, step=r.step, steps=r.steps)


def _plan(kind: str, ns: argparse.Namespace) -> tuple[list[Path], list[Path], Callable[[Job], dict[str, Any]]]:
    """(folders written, folders read, the function the worker runs) for a parsed job."""
    from abysz_lab import pipeline

    resume = not getattr(ns, "no_resume", False)
    if kind in ("stabilise", "dfi"):
        from abysz_lab.dfi import DFIParams

        params = prm.from_namespace(DFIParams, ns)
        out = Path(ns.out).expanduser()
        options: dict[str, Any] = {"params": params, "frames_limit": ns.frames_limit, "overwrite": ns.overwrite}
        if kind == "stabilise":
            from abysz_lab.video import AssembleParams

            encode = {"audio": not ns.no_audio} | ({"quality": ns.quality} if ns.quality is not None else {})
            report = None if ns.report is None else (ns.report or str(out.with_suffix("")) + "_report")
            options |= {"preset": ns.preset, "presets_dir": ns.presets_dir, "compare": ns.compare, "report": report}
            options["assemble"] = prm.from_mapping(AssembleParams, encode)
            writes = [out, pipeline.work_folder(out)] + ([Path(report)] if report else [])
            target: dict[str, Any] = {"out": out}
        else:
            writes = [out, pipeline.work_folder(out)]
            target = {"frames_dir": out}

        def run_pipeline(job: Job) -> dict[str, Any]:
            result = pipeline.stabilise(
                ns.source,
                ns.generated,
                **target,
                **options,
                resume=resume,
                progress=_phase_reporter(job),
                cancel=job.cancel,
            )
            return result.as_dict()

        return writes, [Path(ns.source), Path(ns.generated)], run_pipeline

    if kind == "deflicker":
        from abysz_lab.playground import PlaygroundParams, apply_preset, params_for_preset

        if not ns.input or not ns.out:
            msg = "A deflicker job needs in (the frames folder) and out."
            raise RequestError(msg, "in" if not ns.input else "out")
        given = {s.name: getattr(ns, s.name) for s in prm.specs(PlaygroundParams)}
        name = given.pop("preset") or PlaygroundParams().preset

        def run_deflicker(job: Job) -> dict[str, Any]:
            params = params_for_preset(name, folder=ns.presets_dir, **given)
            summary = apply_preset(
                ns.input,
                ns.out,
                params,
                folder=ns.presets_dir,
                overwrite=ns.overwrite,
                resume=resume,
                progress=_reporter(job, "Deflicker"),
                cancel=job.cancel,
            )
            return _summary_result(summary)

        return [Path(ns.out)], [Path(ns.input)], run_deflicker

    if kind == "extract":
        from abysz_lab.video import ExtractParams, extract_frames

        params = prm.from_namespace(ExtractParams, ns)

        def run_extract(job: Job) -> dict[str, Any]:
            return _summary_result(
                extract_frames(
                    ns.video,
                    ns.out,
                    params,
                    overwrite=ns.overwrite,
                    progress=_reporter(job, "Extract"),
                    cancel=job.cancel,
                )
            )

        return [Path(ns.out)], [Path(ns.video)], run_extract

    if kind == "assemble":
        from abysz_lab.video import AssembleParams, assemble_video

        params = prm.from_namespace(AssembleParams, ns)

        def run_assemble(job: Job) -> dict[str, Any]:
            return _summary_result(
                assemble_video(
                    ns.frames,
                    ns.out,
                    params,
                    timing=ns.timing,
                    audio_from=ns.audio_from,
                    overwrite=ns.overwrite,
                    progress=_reporter(job, "Video"),
                    cancel=job.cancel,
                )
            )

        return [Path(ns.out)], [Path(ns.frames)], run_assemble

    if kind == "compare":
        from abysz_lab.video import CompareParams, compare_videos

        params = prm.from_namespace(CompareParams, ns)
        labels = [x.strip() for x in ns.labels.split(",")] if ns.labels.strip() else None

        def run_compare(job: Job) -> dict[str, Any]:
            return _summary_result(
                compare_videos(
                    ns.folders,
                    ns.out,
                    params,
                    labels=labels,
                    overwrite=ns.overwrite,
                    progress=_reporter(job, "Comparison video"),
                    cancel=job.cancel,
                )
            )

        return [Path(ns.out)], [Path(f) for f in ns.folders], run_compare

    from abysz_lab.analysis import AnalysisParams, analyze_folders, write_report

    params = prm.from_namespace(AnalysisParams, ns)

    def run_analyze(job: Job) -> dict[str, Any]:
        found = analyze_folders(
            ns.source,
            ns.generated,
            ns.output,
            params,
            frames_limit=ns.frames_limit,
            heatmap_frame=ns.heatmap_frame,
            progress=_reporter(job, "Analysis"),
            cancel=job.cancel,
        )
        inputs = [ns.source, ns.generated] + ([ns.output] if ns.output else [])
        files = write_report(found, ns.report, *inputs)
        written = [p for p in (files.json, files.csv, files.plot, files.heatmap) if p is not None]
        return {
            "summary": found.summary.text,
            "files": [{"what": "analysis report", "path": str(p)} for p in written],
            "figures": {"analysis": found.summary.as_dict()},
            "warnings": list(found.warnings),
        }

    reads = [Path(ns.source), Path(ns.generated)] + ([Path(ns.output)] if ns.output else [])
    return [Path(ns.report)], reads, run_analyze


def submit_job(body: Any, queue: JobQueue | None = None) -> Job:
    """Check a job request and queue it; RequestError (422/403) or JobConflictError (409) when refused."""
    kind, namespace, fields = parse_job(body)
    _checked_paths(namespace)
    writes, reads, run = _plan(kind, namespace)
    return (queue or default_queue()).submit(kind, run, writes=writes, reads=reads, request={"kind": kind, **fields})


# --- the other routes' bodies --------------------------------------------------------------------------


def params_schema() -> dict[str, Any]:
    """The JSON schema of every parameter class, and the fields of each job kind (with their CLI help)."""
    from abysz_lab.analysis import AnalysisParams
    from abysz_lab.dfi import DFIParams
    from abysz_lab.playground import PlaygroundParams
    from abysz_lab.video import AssembleParams, CompareParams, ExtractParams, FuseParams

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
        raise RequestError(str(exc), _field_in(str(exc))) from exc
    frames = body.get("frames")
    if frames is not None and not (isinstance(frames, list) and all(isinstance(f, int) for f in frames)):
        msg = "frames must be a list of frame numbers (whole numbers >= 1)."
        raise RequestError(msg, "frames")
    count = body.get("count", 4)
    if not isinstance(count, int) or not 1 <= count <= 16:
        msg = "count must be a whole number between 1 and 16."
        raise RequestError(msg, "count")
    namespace = argparse.Namespace(**{k: body.get(k) for k in ("source", "generated", "out")})
    _checked_paths(namespace)
    source, generated = Path(body["source"]), Path(body["generated"])
    if any(pipeline.is_video_input(p) for p in (source, generated)):
        if not body.get("out"):
            msg = "Video inputs are extracted into <out>_work: give out as well."
            raise RequestError(msg, "out")
        folders = pipeline.prepare_inputs(source, generated, pipeline.work_folder(Path(body["out"]))).folders
        source, generated = folders["source"], folders["generated"]
    items = preview_masks(source, generated, params, indices=frames or None, count=count)

    def png(image: Any) -> str:
        ok, data = cv2.imencode(".png", image)
        if not ok:
            msg = "Could not encode a mask preview as PNG."
            raise InputError(msg)
        return base64.b64encode(data.tobytes()).decode("ascii")

    masks = [
        {
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
        return JSONResponse({"detail": str(exc), "field": _field_in(str(exc))}, status_code=422)
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
            return {"id": job.id, "state": job.state, "queued_behind": jobs().ahead_of(job)}

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
        return _answer(lambda: preview_masks_body(body))

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
    listen = getattr(cmd_opts, "listen", False)
    bind = "0.0.0.0" if listen else (getattr(cmd_opts, "server_name", None) or "127.0.0.1")  # noqa: S104
    add_to_app(app, credentials=webui_credentials(getattr(cmd_opts, "api_auth", None)), bind_host=bind)
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
    app = create_app(credentials=credentials, bind_host=host, extra_hosts=extra_hosts)
    print(f"Abysz LAB API on http://{host}:{port}{PREFIX}/ (docs at {PREFIX}/docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
