"""The one place that knows how gradio 3.41 (A1111) and gradio 4.x (Forge) differ.

Everything is feature-detected from signatures, not from version numbers, so a
host that backports or shims an argument keeps working. The rest of
``abysz_lab.ui`` builds components and events through these helpers and never
branches on the gradio version itself.
"""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr

GRADIO_VERSION = str(getattr(gr, "__version__", "0"))


@cache
def _accepted(callable_: Any) -> frozenset[str]:
    """Names of the keyword arguments ``callable_`` accepts (empty set if it takes ``**kwargs`` only)."""
    try:
        parameters = inspect.signature(callable_).parameters
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


def enable_queue(blocks: gr.Blocks, concurrency: int) -> gr.Blocks:
    """Turn the queue on for the standalone app (never called inside A1111, which does it itself)."""
    if "default_concurrency_limit" in _accepted(blocks.queue):
        return blocks.queue(default_concurrency_limit=concurrency)
    return blocks.queue(concurrency_count=concurrency)


def iter_components(blocks: gr.Blocks) -> Iterator[Any]:
    """Every block of ``blocks`` (components and layouts), in creation order."""
    yield from blocks.blocks.values()


def is_button(block: Any) -> bool:
    """True for buttons (A1111's ui-config keys them by their text)."""
    return isinstance(block, gr.Button)


def is_layout(block: Any) -> bool:
    """True for rows, columns, tabs, accordions and the like (no value of their own)."""
    return isinstance(block, gr.blocks.BlockContext)


def uploaded_path(file: Any) -> str:
    """Path of an uploaded gr.File value: 3.41 gives a tempfile wrapper, 4.x a str."""
    return str(getattr(file, "name", file))


def gradio_temp_root() -> Path:
    """The folder every gradio version serves files from: GRADIO_TEMP_DIR, else <system temp>/gradio."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def servable_copy(path: str | os.PathLike[str], folder: Path) -> str:
    """Copy a file we wrote (e.g. a comparison video) into ``folder`` and return the copy for gr.Video/gr.File.

    Gradio 3.41 and 4.40 copy any returned path into their cache, but later 4.x
    refuse files outside the working folder, the system temp folder and
    ``allowed_paths`` (and 3.41 refuses any path with a dot-folder in it), while
    the user's output folder can be anywhere. ``folder`` should be a per-session
    folder under :func:`gradio_temp_root`; earlier copies in it are removed first
    so a long session does not fill the disk.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink(missing_ok=True)
    target = folder / Path(path).name
    shutil.copyfile(path, target)
    return str(target)
