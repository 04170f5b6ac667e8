"""Stand-in for ``comfy.model_management``'s interrupt flag (set by the Cancel button)."""

from __future__ import annotations

import threading


class InterruptProcessingException(Exception):  # noqa: N818 - ComfyUI's name
    """Raised to stop a node when the user interrupts; ComfyUI reports the prompt as interrupted."""


_lock = threading.RLock()
_interrupt = False


def interrupt_current_processing(value=True):
    global _interrupt
    with _lock:
        _interrupt = value


def processing_interrupted():
    with _lock:
        return _interrupt


def throw_exception_if_processing_interrupted():
    """Raise (and clear the flag) when an interrupt was requested, as ComfyUI does."""
    global _interrupt
    with _lock:
        if _interrupt:
            _interrupt = False
            raise InterruptProcessingException
