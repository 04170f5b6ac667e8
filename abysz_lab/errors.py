"""Exceptions raised at the boundary of Abysz LAB.

Every message says what is wrong and what to do next: the UI shows it as is,
the CLI prints it on one line and exits with the matching code.
"""

from __future__ import annotations


class AbyszError(Exception):
    """Base class of every error Abysz LAB raises on purpose."""

    exit_code = 1


class InputError(AbyszError, ValueError):
    """The user's input (folders, files, parameters) cannot be used as given."""

    exit_code = 2


class CorruptFrameError(InputError):
    """An image file exists but cannot be decoded."""


class MissingDependencyError(AbyszError, ImportError):
    """An optional native piece (ImageMagick, ffmpeg) is not available."""

    exit_code = 3


class Cancelled(AbyszError):  # noqa: N818 - it is a state, not an error condition
    """The user cancelled a run; everything written so far is whole."""

    exit_code = 130
