"""What a job request means: the CLI's own parsers read it, and each kind becomes a function the queue runs.

A request ``{"kind": "dfi", "source": ..., "tolerance": 4}`` is turned into
the command line ``dfi --source=... --tolerance=4`` and parsed by the CLI's
parser of that command, so a job's fields are exactly the command's options
(dashes as underscores). :func:`submit_job` then checks the paths against the
access policy, makes the command's plan (:mod:`abysz_lab.commands`, the same
function the CLI calls, so values are checked and notes written in one place)
and queues it on the shared :class:`~abysz_lab.jobqueue.JobQueue`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from abysz_lab import commands
from abysz_lab.commands import AnalysisRun, Plan
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
    return kind, command_parser(kind).parse_args(argv), fields


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


# --- what each kind of job runs: the command's own plan -------------------------------------------------


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


def _analysis_result(done: AnalysisRun) -> dict[str, Any]:
    found, files = done.result, done.files
    written = [p for p in (files.json, files.csv, files.plot, files.heatmap) if p is not None]
    return {
        "summary": found.summary.text,
        "files": [{"what": "analysis report", "path": str(p)} for p in written],
        "figures": {"analysis": found.summary.as_dict()},
        "warnings": list(found.warnings),
    }


def job_result(outcome: Any) -> dict[str, Any]:
    """The JSON a finished job reports for what its plan returned."""
    from abysz_lab.pipeline import StabiliseResult

    if isinstance(outcome, StabiliseResult):
        return outcome.as_dict()
    if isinstance(outcome, AnalysisRun):
        return _analysis_result(outcome)
    return _summary_result(outcome)


def job_function(plan: Plan) -> Callable[[Job], dict[str, Any]]:
    """What the queue's worker runs for a plan: its progress goes to the job, the job's cancel stops it."""

    def run(job: Job) -> dict[str, Any]:
        def each_phase(report: Any) -> None:  # the pipeline numbers its phases itself
            job.report(report.phase, report.progress, step=report.step, steps=report.steps)

        def one_phase(progress: Any) -> None:
            job.report(plan.phase, progress)

        progress = each_phase if plan.phase is None else one_phase
        return job_result(plan.run(progress=progress, cancel=job.cancel))

    return run


def plan_job(kind: str, namespace: argparse.Namespace) -> Plan:
    """The command's plan for a parsed request; what it refuses is a 422, a folder outside the policy a 403."""
    try:
        plan = commands.plan(kind, namespace)
    except InputError as exc:
        raise RequestError(str(exc), field_in(str(exc))) from exc
    if kind in ("stabilise", "dfi"):
        from abysz_lab import pipeline

        # Extracted frames and the comparison video go beside the output (an allowed root's own name + _work
        # lies outside it), so they must be allowed as well, as in the tab.
        check_derived_path(pipeline.work_folder(Path(namespace.out).expanduser()), "the work folder beside the output")
    for path in plan.writes:  # and whatever else the job derives from its fields (stabilise's <out>_report)
        check_derived_path(path, "a folder this job writes")
    return plan


def submit_job(body: Any, queue: JobQueue | None = None) -> Job:
    """Check a job request and queue it; RequestError (422/403) or JobConflictError (409) when refused."""
    kind, namespace, fields = parse_job(body)
    check_paths(namespace)
    plan = plan_job(kind, namespace)
    return (queue or default_queue()).submit(
        kind,
        job_function(plan),
        writes=plan.writes,
        reads=plan.reads,
        request={"kind": kind, **fields},
        notes=plan.notes,
    )
