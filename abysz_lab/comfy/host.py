"""What the nodes need from ComfyUI itself, found once: the progress bar and the interrupt check.

Every ComfyUI difference lives here. Outside ComfyUI (a script calling a node,
the tests without the stand-in) both are quiet no-ops, so the nodes stay usable
as plain functions.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger("abysz_lab.comfy")


def _comfy(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


class NodeRun:
    """Progress and interruption of one node execution over ``total`` frames."""

    def __init__(self, total: int) -> None:
        utils = _comfy("comfy.utils")
        management = _comfy("comfy.model_management")
        bar = getattr(utils, "ProgressBar", None)
        self._bar = bar(total) if bar is not None else None
        self._interrupted: Callable[[], None] = getattr(
            management, "throw_exception_if_processing_interrupted", lambda: None
        )

    def check(self) -> None:
        """Raise ComfyUI's interrupt exception if the user pressed Cancel (between frames)."""
        self._interrupted()

    def advance(self, frames: int = 1) -> None:
        """Move the node's progress bar on by ``frames``."""
        if self._bar is not None:
            self._bar.update(frames)

    def checked(self, items: Iterable[T]) -> Iterator[T]:
        """Yield ``items``, checking for an interrupt before each one."""
        for item in items:
            self.check()
            yield item


def _directory(getter_name: str) -> Path | None:
    folder_paths = _comfy("folder_paths")
    getter = getattr(folder_paths, getter_name, None)
    return Path(getter()) if getter is not None else None


def output_directory() -> Path | None:
    """ComfyUI's output folder (``--output-directory`` honoured), or None outside ComfyUI."""
    return _directory("get_output_directory")


def resolve_input(folder: str) -> Path:
    """A relative frames folder is looked up in ComfyUI's input folder first, then in the working folder."""
    path = Path(folder.strip()).expanduser()
    base = _directory("get_input_directory")
    if folder.strip() and not path.is_absolute() and base is not None and (base / path).is_dir():
        return base / path
    return path


def resolve_output(folder: str) -> Path:
    """A relative save folder lies in ComfyUI's output folder; an absolute one is used as given."""
    path = Path(folder.strip()).expanduser()
    base = output_directory()
    if not path.is_absolute() and base is not None:
        return base / path
    return path
