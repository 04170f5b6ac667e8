"""What a job request means: the CLI's own parsers read it, and each kind becomes a function the queue runs.

A request ``{"kind": "dfi", "source": ..., "tolerance": 4}`` is turned into
the command line ``dfi --source=... --tolerance=4`` and parsed by the CLI's
parser of that command, so a job's fields are exactly the command's options
(dashes as underscores) and ranges, choices and defaults are checked in one
place. :func:`submit_job` then checks the paths against the access policy and
queues the kind's function on the shared :class:`~abysz_lab.jobqueue.JobQueue`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from abysz_lab import params as prm
from abysz_lab.errors import InputError
from abysz_lab.jobqueue import Job, JobQueue, default_queue

KINDS = ("stabilise", "dfi", "deflicker", "extract", "assemble", "compare", "analyze")
# CLI options that are no job fields: they print or preview instead of running.
NOT_JOB_FIELDS = {"dfi": {"preview_masks", "preview_frames"}, "deflicker": {"list_presets"}}
# Options every command has that belong to the server, not to a request: the frame size limit is the one
# the server was started with (``api --max-megapixels``, A1111's setting), never raised by a caller.
SERVER_FIELDS = {"max_megapixels"}
# Namespace attributes holding paths: checked against the access policy before a job is queued.
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
        raise RequestError(message, field_in(message))


def field_in(message: str) -> str | None:
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
    skip = NOT_JOB_FIELDS.get(kind, set()) | SERVER_FIELDS
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
            raise RequestError(str(exc), field_in(str(exc))) from exc
    if kind == "deflicker":
        from abysz_lab.playground import PlaygroundParams

        given = {s.name: getattr(namespace, s.name) for s in prm.specs(PlaygroundParams)}
        given = {k: v for k, v in given.items() if v is not None}
        try:
            prm.from_mapping(PlaygroundParams, given)
        except InputError as exc:
            raise RequestError(str(exc), field_in(str(exc))) from exc


def check_paths(namespace: argparse.Namespace) -> None:
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


def check_derived_path(path: Path, what: str, field: str = "out") -> None:
    """Refuse a path the job derives from its fields (``<out>_work``) outside the allowed folders (403)."""
    from abysz_lab.access import current_policy

    try:
        current_policy().check_path(path, what)
    except InputError as exc:
        raise RequestError(str(exc), field, status=403) from exc


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

        if not ns.out:  # the CLI's dfi may leave it out for --preview-masks; a job always writes frames
            msg = f"out is required: a {kind} job needs the folder its result goes to."
            raise RequestError(msg, "out")
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
        # Extracted frames and the comparison video go beside the output (an allowed root's own name + _work
        # lies outside it), so they must be allowed as well, as in the tab.
        check_derived_path(pipeline.work_folder(out), "the work folder beside the output")

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
        name = given.pop("preset")
        if not name:  # no silent default, as on the command line: the presets do very different things
            from abysz_lab.playground import all_presets

            names = ", ".join(p.name for p in all_presets(ns.presets_dir))
            msg = f"preset is required: one of {names} (GET /presets says what each does)."
            raise RequestError(msg, "preset")

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

    from abysz_lab import cli
    from abysz_lab.analysis import AnalysisParams, analyze_folders, write_report

    params = prm.from_namespace(AnalysisParams, ns)

    def run_analyze(job: Job) -> dict[str, Any]:
        found = analyze_folders(
            ns.source,
            ns.generated,
            ns.output,
            params,
            frames_limit=ns.frames_limit,
            heatmap_frame=cli.frame_index(ns.heatmap_frame),  # the field counts from 1, as the CLI's flag
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
    check_paths(namespace)
    writes, reads, run = _plan(kind, namespace)
    return (queue or default_queue()).submit(kind, run, writes=writes, reads=reads, request={"kind": kind, **fields})
