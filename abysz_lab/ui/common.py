"""What every Abysz LAB sub-tab shares: widgets from ParamSpec, queued runs, progress, messages.

Sub-tabs build their parameter controls with :func:`param_widgets` (ranges,
defaults and help come from the dataclass, never written again here), run long
jobs through :meth:`QueuedRuns.run` (on the job queue the HTTP API shares, with
the folders each run reads and writes, a cancel token and "Queued behind N
jobs" while it waits), report progress through :func:`progress_callback`, and
turn :class:`~abysz_lab.errors.AbyszError` into a visible message with
:func:`message`.
"""

from __future__ import annotations

import contextvars
import functools
import html
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, overload

import cv2
import gradio as gr
import numpy as np

from abysz_lab import params as prm
from abysz_lab.access import current_policy
from abysz_lab.errors import AbyszError, Cancelled, InputError
from abysz_lab.jobqueue import Job, JobQueue, default_queue
from abysz_lab.jobs import Progress, ProgressCallback, RunSummary
from abysz_lab.ui import compat

ELEM_PREFIXES = ("abysz_", "abysz-")


# --- widgets from parameter specs -----------------------------------------------------------


def help_text(spec: prm.ParamSpec) -> str:
    """The help shown under a control, naming the original extension's control so its users find it."""
    if spec.original:
        return f"{spec.help} (Original: {spec.original}.)"
    return spec.help


def param_widget(spec: prm.ParamSpec, *, elem_prefix: str) -> Any:
    """One gradio control for one parameter: Checkbox, Dropdown, Slider, Number or Textbox."""
    common = {
        "label": spec.label,
        "info": help_text(spec),
        "elem_id": f"{elem_prefix}_{spec.name}",
        "interactive": True,
    }
    if spec.kind is bool:
        return compat.component(gr.Checkbox, value=bool(spec.default), **common)
    if spec.choices is not None:
        return compat.component(gr.Dropdown, choices=list(spec.choices), value=spec.default, **common)
    if spec.kind in (int, float) and spec.minimum is not None and spec.maximum is not None:
        step = spec.step if spec.step is not None else (1 if spec.kind is int else (spec.maximum - spec.minimum) / 100)
        return compat.component(
            gr.Slider, minimum=spec.minimum, maximum=spec.maximum, step=step, value=spec.default, **common
        )
    if spec.kind in (int, float):
        return compat.component(gr.Number, value=spec.default, precision=0 if spec.kind is int else None, **common)
    return compat.component(gr.Textbox, value=str(spec.default), **common)


def run_option_widgets(elem_prefix: str) -> dict[str, Any]:
    """The "overwrite" and "resume" checkboxes every tab that writes a folder of frames offers."""
    return {
        "overwrite": compat.component(
            gr.Checkbox,
            label="Overwrite same-named files",
            value=False,
            info="Allow replacing files in the output folder that Abysz LAB did not write.",
            elem_id=f"{elem_prefix}_overwrite",
        ),
        "resume": compat.component(
            gr.Checkbox,
            label="Resume an interrupted run",
            value=True,
            info="Continue after the last whole frame when the same run was stopped.",
            elem_id=f"{elem_prefix}_resume",
        ),
    }


def param_widgets(cls: type, *, elem_prefix: str) -> dict[str, Any]:
    """A control per declared field of ``cls``, keyed by field name, in declaration order.

    Call it inside the layout (Row/Column) where the controls should appear.
    """
    return {s.name: param_widget(s, elem_prefix=elem_prefix) for s in prm.specs(cls)}


def params_from_values(cls: type, values: Mapping[str, Any]) -> Any:
    """Build ``cls`` from the values of its controls (extra keys ignored); raises InputError."""
    names = {s.name for s in prm.specs(cls)}
    return prm.from_mapping(cls, {k: v for k, v in values.items() if k in names})


# --- runs on the job queue ------------------------------------------------------------------------


class QueuedRuns:
    """One run button's jobs on the process's job queue, which the HTTP API shares.

    A click waits its turn when the queue is busy ("Queued behind 2 jobs" in the
    progress bar) instead of being refused; a run into a folder that a queued or
    running job writes (this tab's, another tab's or the API's) is refused at once
    with a message naming that job. The folders a run reads and writes are given
    with each run, so the queue keeps jobs on the same folders in order and lets a
    second worker take only jobs on other folders.
    """

    CLICK_GRACE_S = 5.0
    WAIT_POLL_S = 0.2

    def __init__(self, what: str, queue: JobQueue | None = None) -> None:
        self.what = what
        self._queue = queue
        self._jobs: list[Job] = []  # this button's unfinished jobs, for Cancel
        self._lock = threading.Lock()
        self._asked_at: float | None = None  # when a click on the run button was seen; None once answered

    @property
    def queue(self) -> JobQueue:
        """The job queue the runs go on (the process's shared one unless one was given)."""
        return self._queue or default_queue()

    @property
    def busy(self) -> bool:
        """True while a run of this button is queued or running."""
        with self._lock:
            return any(job.state in ("queued", "running") for job in self._jobs)

    def run(
        self,
        kind: str,
        work: Callable[[Job], Any],
        *,
        writes: Iterable[Path],
        reads: Iterable[Path] = (),
        progress: Callable[..., Any] | None = None,
    ) -> Any:
        """Run ``work(job)`` as a job on the queue and return its value; report "Queued behind N jobs" while it waits.

        ``writes``/``reads`` are the folders (or files) the job writes and reads.
        JobConflictError when another queued or running job writes where this one
        would; the job's own exception is raised here, in the handler, so the tab
        shows it as it would any other; Cancelled when it was cancelled before it started.
        """
        box: dict[str, Any] = {}
        # gradio 4's gr.Progress finds its event through context variables: the worker thread runs the job in a
        # copy of this handler's context, as gradio's own thread pool runs a sync handler.
        context = contextvars.copy_context()

        def job_run(job: Job) -> dict[str, Any]:
            try:
                box["value"] = context.run(work, job)
            except BaseException as exc:
                box["error"] = exc
                raise
            return {}

        queue = self.queue
        job = queue.submit(kind, job_run, writes=writes, reads=reads)
        with self._lock:
            self._jobs.append(job)
        try:
            while not job.wait(self.WAIT_POLL_S):
                ahead = queue.ahead_of(job)
                if job.state == "queued" and progress is not None:
                    progress((0, 1), desc=f"Queued behind {ahead} job{'s' if ahead != 1 else ''}", unit="jobs")
        finally:
            with self._lock:
                self._jobs.remove(job)
        if "error" in box:
            raise box["error"]
        if "value" not in box:  # cancelled while it waited
            raise Cancelled(job.message or "Cancelled before it started; nothing was written.")
        return box["value"]

    def cancel(self, *, stopping: str, idle: str) -> str:
        """Drop this button's queued runs and ask its running one to stop after the current frame: the status line.

        ``stopping`` is said when a run was going ("Cancelling: DFI stops after the
        current frame."), ``idle`` when nothing was queued or running.
        """
        with self._lock:
            live = [job for job in self._jobs if job.state in ("queued", "running")]
        running = [job for job in live if job.state == "running"]
        for job in live:
            self.queue.cancel(job.id)
        waiting = len(live) - len(running)
        lines = [message(stopping, "warning")] if running else []
        if waiting:
            runs = f"{waiting} waiting run{'s' if waiting != 1 else ''}"
            them = "they" if waiting != 1 else "it"
            lines.append(message(f"Cancelled {runs} before {them} started; nothing was written.", "warning"))
        return "".join(lines) or message(idle)

    def note_click(self) -> str:
        """Record a click on the run button: the note for a click while a run is queued or going, else ''.

        gradio drops a second click of a button whose run is still pending
        (gradio 4's trigger_mode "once"; A1111 on 3.41 showed the same), so the
        run itself never hears it: this answers from a second, unqueued event.
        A click within a few seconds of the last one counts too, since the run
        may not be on the queue yet.
        """
        now = time.monotonic()
        recent = self._asked_at is not None and now - self._asked_at < self.CLICK_GRACE_S
        if self.busy or recent:
            article = "An" if self.what[:1].lower() in "aeiou" else "A"
            return message(
                f"{article} {self.what} run is already going (or waiting in the queue): wait for it to finish, "
                "or press Cancel.",
                "warning",
            )
        self._asked_at = now
        return ""

    def click_answered(self) -> str:
        """The run asked for by the last click has answered: clear the note."""
        self._asked_at = None
        return ""


# --- progress and messages ----------------------------------------------------------------------


def progress_callback(progress: Callable[..., Any] | None, *, what: str, unit: str = "frames") -> ProgressCallback:
    """Adapt a ``gr.Progress`` (or any callable with its signature) to a jobs.ProgressCallback."""

    def update(p: Progress) -> None:
        if progress is None:
            return
        desc = f"{what}: {p.message}" if p.message else what
        progress((p.done, p.total), desc=desc, unit=unit)

    return update


def message(text: str, kind: str = "info") -> str:
    """An HTML status line (``kind``: info, ok, warning, error) for a gr.HTML status box."""
    return f'<div class="abysz-msg abysz-msg-{kind}">{html.escape(text)}</div>'


def error_message(exc: AbyszError) -> str:
    """The visible message for an error a handler caught: a warning for cancel/busy, an error otherwise."""
    kind = "warning" if isinstance(exc, Cancelled) else "error"
    return message(str(exc), kind)


@overload
def path_box(text: Any, what: str, *, optional: Literal[False] = False) -> Path: ...
@overload
def path_box(text: Any, what: str, *, optional: Literal[True]) -> Path | None: ...
def path_box(text: Any, what: str, *, optional: bool = False) -> Path | None:
    """A path typed into a textbox (quotes from "copy as path" removed), within the folders the server may use.

    An empty box gives None when ``optional``, else InputError asking for ``what``
    ("Enter the DFI source frames folder."). On a server others can reach, a
    path outside the allowed roots (after ``..`` and symlinks) is refused with
    InputError naming them (see :mod:`abysz_lab.access`).
    """
    typed = str(text or "").strip().strip('"')
    if typed:
        return allowed_path(Path(typed), what)
    if optional:
        return None
    msg = f"Enter {what}."
    raise InputError(msg)


def allowed_path(path: Path, what: str = "") -> Path:
    """``path`` (``~`` expanded) if the process-wide access policy allows it; InputError naming the roots otherwise.

    For paths the UI derives (an output next to an input) as well as typed ones.
    """
    return current_policy().check_path(path, what or "the path")


def whole_number(value: Any, what: str, minimum: int = 0) -> int:
    """A whole number typed into a box, at least ``minimum``; InputError naming the box otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        msg = f"{what} must be a whole number, got {value!r}."
        raise InputError(msg) from exc
    if not number.is_integer() or number < minimum:
        msg = f"{what} must be a whole number of at least {minimum}, got {value!r}."
        raise InputError(msg)
    return int(number)


def is_video_input(path: Path) -> bool:
    """True when an input box names a file (to extract) rather than a frame folder (see the pipeline)."""
    from abysz_lab.pipeline import is_video_input as names_a_video

    return names_a_video(path)


def resolve_output(input_text: Any, output_text: Any, output_root: str = "", *, suffix: str, what: str) -> Path:
    """The output folder: as typed, else ``<input name><suffix>`` under the output root or next to the input.

    ``what`` names the input box in the message when it is empty too.
    """
    typed = path_box(output_text, "", optional=True)
    if typed is not None:
        return typed
    given = path_box(input_text, what)
    stem = given.stem if is_video_input(given) else given.name
    name = f"{stem or 'frames'}{suffix}"
    root = path_box(output_root, "", optional=True)
    return allowed_path(root / name if root is not None else given.parent / name, "the output folder")


def run_rows(summary: RunSummary, unit: str = "frames") -> list[tuple[str, str]]:
    """The figures every finished run shows: count, time, speed (and resume / ignored entries when any)."""
    rows = [
        (f"{unit.capitalize()} written", f"{summary.written} of {summary.total}"),
        ("Time", f"{summary.seconds:.1f} s"),
        ("Speed", f"{summary.fps:.1f} frames/s"),
    ]
    if summary.resumed_from:
        rows.append(("Resumed after frame", str(summary.resumed_from)))
    if summary.skipped_inputs:
        rows.append(("Non-image entries ignored", str(summary.skipped_inputs)))
    return rows


def figures_html(title: str, rows: Iterable[tuple[str, str]], warnings: Iterable[str] = ()) -> str:
    """A finished run: an ok line, its figures as a small table, then its warnings."""
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    notes = "".join(message(w, "warning") for w in warnings)
    return message(title, "ok") + f'<table class="abysz-figures">{cells}</table>' + notes


# --- wiring --------------------------------------------------------------------------------------


def unexpected_error(exc: BaseException) -> str:
    """The status for an exception no handler expected: its type and text, the traceback in the console."""
    return message(f"Unexpected error: {type(exc).__name__}: {exc} (details in the console).", "error")


def at_boundary(fn: Callable[..., Any], outputs: list, status: Any = None) -> Callable[..., Any]:
    """Wrap an event handler so an unexpected exception becomes a status message, not gradio's bare "Error".

    The traceback goes to the console (where bug reports come from); ``status``
    (default: the first output) shows the message and the other outputs stay as
    they are. AbyszError never gets here: the handlers turn it into their own
    message.
    """
    where = next(i for i, o in enumerate(outputs) if o is (outputs[0] if status is None else status))

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # the handler boundary: log it, show it, keep the tab usable
            print(f"Abysz LAB: unexpected error in {getattr(fn, '__name__', 'a handler')}:", file=sys.stderr)
            traceback.print_exc()
            if len(outputs) == 1:
                return unexpected_error(exc)
            return tuple(unexpected_error(exc) if i == where else gr.update() for i in range(len(outputs)))

    return guarded


def wire_run(
    event: Any,
    handler: Callable[[dict[str, Any], Any], Any],
    inputs: Mapping[str, Any],
    outputs: list,
    *,
    status: Any = None,
) -> Any:
    """Attach a long run to ``event`` (e.g. ``button.click``): ``handler(values by control name, gr.Progress)``.

    Returns the event (for ``.then``). No gradio concurrency limit (the job queue orders the runs) and the
    unexpected-error boundary of :func:`at_boundary`.
    """
    names = list(inputs)

    # gradio injects gr.Progress by a positional parameter's default: it has to come before *values.
    def on_run(progress=gr.Progress(), *values: Any) -> Any:  # noqa: B008
        return handler(dict(zip(names, values, strict=True)), progress)

    guarded = at_boundary(on_run, outputs, status)
    return compat.on(event, guarded, inputs=[inputs[n] for n in names], outputs=outputs, unlimited=True)


def status_box(elem_id: str) -> Any:
    """The status line of a button: place it right under the button's row.

    The ``abysz-status`` class lets javascript/abysz_lab.js bring a new message
    into view when it lands below the fold.
    """
    return compat.component(gr.HTML, value="", elem_id=elem_id, elem_classes=["abysz-status"])


def answer_repeated_clicks(event: Any, run: Any, runs: Any, note: Any) -> None:
    """Make ``note`` (a :func:`status_box` under a run button) say a run is going when the button is clicked again.

    ``event`` is the button's click listener and ``run`` what :func:`wire_run`
    returned for it; ``runs`` is the button's :class:`QueuedRuns` (anything
    with its ``note_click``/``click_answered``). The note clears when the run's
    answer arrives.
    """
    compat.on(event, runs.note_click, inputs=[], outputs=[note], queue=False, unlimited=True)
    compat.then(run, runs.click_answered, outputs=[note])


def to_display(image_bgr: np.ndarray, max_side: int = 768) -> np.ndarray:
    """An RGB copy of an OpenCV frame for gr.Gallery/gr.Image, shrunk to ``max_side`` at most.

    Arrays rather than file paths: gradio 4 refuses to serve files outside its
    allowed folders, and the user's output folder can be anywhere.
    """
    h, w = image_bgr.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        image_bgr = cv2.resize(image_bgr, (max(1, round(w * scale)), max(1, round(h * scale))), cv2.INTER_AREA)
    if image_bgr.ndim == 2:
        return cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)


# --- checks over a built tab ------------------------------------------------------------------------


# A1111 (and Forge) file a component's saved value in ui-config.json under "<tab id>/<label>/<field>",
# whatever sub-tab it sits in (modules/ui_loadsave.py, 1.10; elem_id plays no part), and put
# "customscript/<source>/" in front when the component carries ``custom_script_source`` (which they set
# on the controls of scripts). Setting it per sub-tab (and per section where a sub-tab repeats a
# label) gives each "Output folder" its own key, so labels read as a person would write them instead
# of carrying "DFI ...", "Playground ..." prefixes to stay unique.
CONFIG_SCOPE_ATTR = "custom_script_source"


def scope_config_keys(block: Any, scope: str) -> None:
    """File the saved values of every component inside ``block`` under ``scope`` (see CONFIG_SCOPE_ATTR).

    Components that already have a scope (a section inside a sub-tab) keep it,
    so scope the innermost blocks first.
    """
    for child in compat.iter_children(block):
        if not compat.is_layout(child) and getattr(child, CONFIG_SCOPE_ATTR, None) is None:
            setattr(child, CONFIG_SCOPE_ATTR, scope)


def config_key(block: Any) -> str | None:
    """The name A1111's ui-config.json files a component under: ``scope/label`` (a button: its text)."""
    if compat.is_layout(block):
        return None
    if compat.is_button(block):
        name = str(block.value) if block.value is not None else None
    else:
        label = getattr(block, "label", None)
        name = str(label) if label else None
    scope = getattr(block, CONFIG_SCOPE_ATTR, None)
    return f"{scope}/{name}" if name is not None and scope else name


def duplicate_labels(blocks: gr.Blocks) -> list[str]:
    """Labels (and button texts) used by more than one component of ``blocks``."""
    counts = Counter(key for b in compat.iter_components(blocks) if (key := config_key(b)) is not None)
    return sorted(k for k, n in counts.items() if n > 1)


def check_unique_labels(blocks: gr.Blocks) -> None:
    """Raise ValueError when two components share a label in one scope: A1111 would file their values together."""
    dupes = duplicate_labels(blocks)
    if dupes:
        msg = (
            f"Abysz LAB tab: these labels are used by more than one component: {', '.join(dupes)}. "
            "A1111's ui-config.json keys saved values by label (within a sub-tab or section, see "
            "scope_config_keys), so each must be unique there."
        )
        raise ValueError(msg)
