"""The one place that knows how gradio 3.41 (A1111) and gradio 4.x (Forge) differ.

Everything is feature-detected from signatures, not from version numbers, so a
host that backports or shims an argument keeps working. The rest of
``abysz_lab.ui`` builds components and events through these helpers and never
branches on the gradio version itself.
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr

GRADIO_VERSION = str(getattr(gr, "__version__", "0"))


def _accepted(callable_: Any) -> frozenset[str]:
    """Names of the keyword arguments ``callable_`` accepts (empty set if it takes ``**kwargs`` only)."""
    # Cache by the plain function: a bound event method (4.x button.click) or an event listener
    # object (3.41) as the key would keep its component, and with it the whole old tab, alive
    # after every Reload UI.
    if inspect.ismethod(callable_):
        return _accepted_by_function(callable_.__func__)
    if inspect.isfunction(callable_) or isinstance(callable_, type):
        return _accepted_by_function(callable_)
    return _accepted_by_function(type(callable_).__call__)


@cache
def _accepted_by_function(function: Any) -> frozenset[str]:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(name for name, p in parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD)


def supported(callable_: Any, **kwargs: Any) -> dict[str, Any]:
    """Keep only the keyword arguments that ``callable_`` declares.

    Gradio 3.41 swallows unknown keyword arguments with a warning and 4.x raises
    on some of them, so optional niceties (``show_download_button``,
    ``concurrency_limit``...) are passed only where they exist.
    """
    accepted = _accepted(callable_)
    return {k: v for k, v in kwargs.items() if k in accepted}


def component(cls: type, **kwargs: Any) -> Any:
    """Create a gradio component, dropping the options this gradio does not have."""
    return cls(**supported(cls.__init__, **kwargs))


def on(event: Any, fn: Any, *, inputs: list, outputs: list, queue: bool = True, unlimited: bool = False) -> Any:
    """Attach ``fn`` to an event listener such as ``button.click``.

    ``unlimited`` lifts gradio 4's default of one concurrent run per event, so a
    second click reaches our own one-run-at-a-time guard (and gets a message)
    instead of waiting silently in gradio's queue; gradio 3.41 has no
    per-event limit (the host's ``queue(concurrency_count)`` applies).
    """
    extra = supported(event, concurrency_limit=None) if unlimited else {}
    return event(fn, inputs=inputs, outputs=outputs, queue=queue, show_progress="full" if queue else "hidden", **extra)


def then(dependency: Any, fn: Any, *, outputs: list) -> Any:
    """Run ``fn`` (no inputs, not queued) once the event ``dependency`` has answered."""
    return dependency.then(fn, inputs=[], outputs=outputs, queue=False)


def run_script_on_load(blocks: gr.Blocks, script: str) -> None:
    """Run JavaScript ``script`` when the standalone app's page loads (A1111 injects ours itself).

    Both versions run a load event's JavaScript function: ``_js`` in 3.41, ``js`` in 4.x.
    """
    function = f"() => {{\n{script}\n}}"
    if "js" in _accepted(blocks.load):
        blocks.load(None, inputs=None, outputs=None, js=function)
    else:
        blocks.load(None, inputs=None, outputs=None, _js=function)


def enable_queue(blocks: gr.Blocks, concurrency: int) -> gr.Blocks:
    """Turn the queue on for the standalone app (never called inside A1111, which does it itself)."""
    if "default_concurrency_limit" in _accepted(blocks.queue):
        return blocks.queue(default_concurrency_limit=concurrency)
    return blocks.queue(concurrency_count=concurrency)


def iter_components(blocks: gr.Blocks) -> Iterator[Any]:
    """Every block of ``blocks`` (components and layouts), in creation order."""
    yield from blocks.blocks.values()


def iter_children(block: Any) -> Iterator[Any]:
    """Every block inside the layout ``block`` (depth first), not ``block`` itself."""
    for child in getattr(block, "children", None) or []:
        yield child
        yield from iter_children(child)


def is_button(block: Any) -> bool:
    """True for buttons (A1111's ui-config keys them by their text)."""
    return isinstance(block, gr.Button)


def is_layout(block: Any) -> bool:
    """True for rows, columns, tabs, accordions and the like (no value of their own)."""
    return isinstance(block, gr.blocks.BlockContext)


def uploaded_path(file: Any) -> str:
    """Path of an uploaded gr.File value: 3.41 gives a tempfile wrapper, 4.x a str."""
    return str(getattr(file, "name", file))


_temp_root: Path | None = None
_temp_lock = threading.Lock()


def temp_folder(prefix: str) -> Path:
    """A new folder under Abysz LAB's one temporary root, which is made on first use and removed at exit.

    Under the system temp folder, which every gradio version serves files from
    (see :class:`ServedFiles`). Nothing is created at import or build time.
    """
    global _temp_root  # one root per process, made lazily
    with _temp_lock:
        if _temp_root is None or not _temp_root.is_dir():
            _temp_root = Path(tempfile.mkdtemp(prefix="abysz_lab_"))
            atexit.register(shutil.rmtree, _temp_root, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=_temp_root))


def remove_temp_root() -> None:
    """Delete Abysz LAB's temporary root now (at exit it goes anyway); the next temp_folder makes a new one."""
    global _temp_root  # see temp_folder
    with _temp_lock:
        if _temp_root is not None:
            shutil.rmtree(_temp_root, ignore_errors=True)
            _temp_root = None


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """While serving: SIGTERM stops the server like Ctrl-C, and the temporary folder is removed either way.

    Python runs atexit handlers on Ctrl-C but not when killed by SIGTERM
    (``kill``, ``systemctl stop``, a container stopping), which left the
    temporary folder behind. gradio's ``launch`` returns on KeyboardInterrupt.
    """

    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if in_main else None
    try:
        yield
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        remove_temp_root()


class ServedFiles:
    """Copies of output files (videos, GIFs) in a temporary folder that every gradio version serves.

    gradio 3.41 and 4.40 copy a returned file into their cache from anywhere, but
    later 4.x releases refuse paths outside the working folder, the system temp
    folder and ``allowed_paths`` (InvalidPathError), and the user's output can be
    anywhere. A hard link (a copy across drives) under the system temp folder is
    accepted by all of them. Each ``slot`` (one per video component) keeps only
    its latest file, so the folder does not grow with every run.
    """

    def __init__(self, prefix: str = "abysz_lab_") -> None:
        self.prefix = prefix
        self._folder: Path | None = None  # made on first use: no folders at import or build time
        self._latest: dict[str, Path] = {}

    @property
    def folder(self) -> Path | None:
        """The temporary folder of the copies (None until the first one)."""
        return self._folder

    def serve(self, path: str | os.PathLike[str], slot: str) -> str:
        """Return a servable path to a copy of ``path``, replacing this slot's previous copy."""
        source = Path(path)
        if self._folder is None or not self._folder.is_dir():
            self._folder = temp_folder(self.prefix)
        target = self._folder / f"{slot}_{time.time_ns()}{source.suffix.lower()}"
        try:
            os.link(source, target)
        except OSError:  # another drive, or a filesystem without hard links
            shutil.copyfile(source, target)
        previous = self._latest.get(slot)
        self._latest[slot] = target
        if previous is not None:
            with contextlib.suppress(OSError):
                previous.unlink()
        return str(target)
