"""Frame sequences on disk: list, read, write atomically, stream.

Everything that touches image files goes through here, so every operation gets
the same rules: natural sort (``frame2`` before ``frame10``), any common format
read as 8-bit BGR, unicode paths, outputs written atomically, input folders
never modified.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from abysz_lab import params as prm
from abysz_lab.errors import CorruptFrameError, InputError
from abysz_lab.imageheader import header_size

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

T = TypeVar("T")
R = TypeVar("R")

_NATURAL_CHUNK = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: ``f2`` < ``f10``."""
    parts = _NATURAL_CHUNK.split(name.casefold())
    return tuple((0, int(p), p) if p.isdigit() else (1, 0, p) for p in parts)


@dataclass(frozen=True)
class FrameFolder:
    """The image files of one folder in natural order, and what was left out."""

    folder: Path
    frames: tuple[Path, ...]
    skipped_files: tuple[Path, ...] = ()
    skipped_dirs: tuple[Path, ...] = ()

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def skipped_summary(self) -> str:
        """One line saying what was ignored, or an empty string."""
        bits = []
        if self.skipped_files:
            bits.append(f"{len(self.skipped_files)} non-image file(s)")
        if self.skipped_dirs:
            bits.append(f"{len(self.skipped_dirs)} subfolder(s)")
        return f"{self.folder}: ignored {' and '.join(bits)}" if bits else ""


def list_frames(folder: str | os.PathLike[str], *, role: str = "frames") -> FrameFolder:
    """List the images of ``folder`` in natural order; other entries are counted, not read.

    Raises InputError when the folder is missing, not a folder, or holds no image.
    ``role`` names the folder in messages ("source frames", "generated frames").
    """
    path = Path(folder).expanduser()
    if not str(folder).strip():
        msg = f"No folder given for the {role}: enter the path of a folder of images."
        raise InputError(msg)
    if not path.exists():
        msg = f"The {role} folder does not exist: {path}. Check the path (copy it from your file manager)."
        raise InputError(msg)
    if not path.is_dir():
        msg = f"The {role} path is a file, not a folder: {path}. Give the folder that holds the images."
        raise InputError(msg)
    frames, skipped_files, skipped_dirs = [], [], []
    try:
        entries = [(entry, entry.is_dir()) for entry in path.iterdir()]
    except OSError as exc:  # not readable, or (r without x) its entries cannot be looked at
        msg = (
            f"Cannot list the {role} folder {path}: {exc.strerror or exc}. Check that you may read it "
            "(permissions, or a drive that is no longer mounted)."
        )
        raise InputError(msg) from exc
    for entry, is_dir in entries:
        if entry.name.startswith("."):
            continue  # hidden: our run sidecars, .DS_Store, editors' temp files; never frames
        if is_dir:
            skipped_dirs.append(entry)
        elif entry.suffix.lower() in IMAGE_EXTENSIONS:
            _check_link(entry, role)
            frames.append(entry)
        else:
            skipped_files.append(entry)
    if not frames:
        extra = f" (it holds {len(skipped_files)} other file(s))" if skipped_files else ""
        msg = (
            f"The {role} folder holds no images{extra}: {path}. "
            f"Supported: {', '.join(e.lstrip('.') for e in IMAGE_EXTENSIONS)}."
        )
        raise InputError(msg)
    frames.sort(key=lambda p: natural_key(p.name))
    return FrameFolder(path, tuple(frames), tuple(sorted(skipped_files)), tuple(sorted(skipped_dirs)))


def _check_link(entry: Path, role: str) -> None:
    """Refuse a frame that is a symbolic link going nowhere (a missing target, or a loop)."""
    if not entry.is_symlink():
        return
    try:
        entry.stat()
    except OSError as exc:
        why = "loops back on itself" if exc.errno == errno.ELOOP else "points to a file that does not exist"
        msg = (
            f"{entry.name} in the {role} folder {entry.parent} is a symbolic link that {why}. "
            "Fix the link or remove it from the folder."
        )
        raise InputError(msg) from exc


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Convert a decoded image of any depth and channel count to 8-bit BGR.

    16-bit is scaled (65535 -> 255), floats are taken as 0..1, grayscale is
    replicated to three channels and alpha is dropped.
    """
    if image.dtype == np.uint16:
        image = cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        msg = f"unsupported pixel type {image.dtype}"
        raise ValueError(msg)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if channels == 3:
        return np.ascontiguousarray(image)
    msg = f"unsupported channel count {channels}"
    raise ValueError(msg)


@dataclass(frozen=True)
class FrameLimits:
    """Limits every frame read obeys (CLI: ``--max-megapixels``; A1111: Settings → Abysz LAB)."""

    max_megapixels: float = prm.param(
        64.0,
        label="Largest frame (megapixels)",
        help="Frames with more pixels are refused before they are decoded, so one huge or hostile image cannot "
        "exhaust memory (64 = 8192x8192). Raise it for very large frames.",
        minimum=1,
        maximum=1024,
        step=1,
    )

    def __post_init__(self) -> None:
        prm.validate(self)

    @property
    def max_pixels(self) -> int:
        """The limit in pixels."""
        return int(self.max_megapixels * 1_000_000)


_limits = FrameLimits()


def frame_limits() -> FrameLimits:
    """The process-wide frame limits (set by the CLI flag, the UI launcher or the A1111 setting)."""
    return _limits


def set_frame_limits(limits: FrameLimits) -> FrameLimits:
    """Make ``limits`` the process-wide frame limits; return the previous ones."""
    global _limits  # one process-wide setting, changed by launchers and tests only
    previous, _limits = _limits, limits
    return previous


def _read_bytes(path: Path) -> np.ndarray:
    try:
        return np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            why = "it is a symbolic link that loops"
        elif exc.errno == errno.ENOENT and path.is_symlink():
            why = "it is a symbolic link to a file that does not exist"
        else:
            why = exc.strerror or str(exc)
        msg = (
            f"Cannot read {path}: {why}. Check the file still exists and that you may read it "
            "(files being written by another program can be locked)."
        )
        raise InputError(msg) from exc


def _check_pixels(path: Path, size: tuple[int, int] | None, limits: FrameLimits) -> None:
    if size is not None and size[0] * size[1] > limits.max_pixels:
        w, h = size
        msg = (
            f"Frame {path.name} in {path.parent} is {w}x{h} ({w * h / 1e6:.0f} megapixels), over the limit of "
            f"{limits.max_megapixels:g} megapixels: scale it down, or raise the limit (command line: "
            "--max-megapixels; A1111: Settings > Abysz LAB)."
        )
        raise InputError(msg)


def frame_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """A frame's ``(width, height)`` from its header alone (None for a format whose header is not parsed).

    Raises InputError when the file cannot be read or is over the pixel limit.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        _read_bytes(path)  # the same one-line message as read_frame
        raise InputError(str(exc)) from exc
    size = header_size(head)
    if size is None and head.startswith(b"\xff\xd8"):  # a JPEG whose metadata outgrows the first 64 KiB
        size = header_size(memoryview(_read_bytes(path)))
    _check_pixels(path, size, frame_limits())
    return size


def _out_of_memory(path: Path, exc: BaseException) -> InputError:
    wanted = re.search(r"allocate (\d+) bytes", str(exc))
    detail = f" (OpenCV could not allocate {int(wanted.group(1)) / 1e6:.0f} MB)" if wanted else ""
    msg = (
        f"Not enough memory to decode {path.name} in {path.parent}{detail}: close other programs, "
        "or use smaller frames."
    )
    return InputError(msg)


def _is_out_of_memory(exc: cv2.error) -> bool:
    text = str(exc).lower()
    return "insufficient memory" in text or "failed to allocate" in text or "out of memory" in text


def read_frame(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as an 8-bit BGR array (H, W, 3).

    Decodes from bytes so non-ASCII paths work on every OS (``cv2.imread``
    fails on them on Windows). The size is read from the header first: a frame
    over :func:`frame_limits` is refused before any pixel is decoded. Raises
    CorruptFrameError (or InputError) naming the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    _check_pixels(path, header_size(memoryview(data)), frame_limits())
    try:
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except MemoryError as exc:
        raise _out_of_memory(path, exc) from exc
    except cv2.error as exc:  # e.g. a header claiming more pixels than OpenCV allows
        if _is_out_of_memory(exc):
            raise _out_of_memory(path, exc) from exc
        msg = (
            f"Cannot decode {path.name} in {path.parent}: OpenCV refused it ({_cv2_reason(exc)}). Re-export that frame."
        )
        raise CorruptFrameError(msg) from exc
    if decoded is None:
        msg = (
            f"Cannot decode {path.name} in {path.parent}: the file is empty, truncated or not an image. "
            "Re-export that frame or remove it from the folder."
        )
        raise CorruptFrameError(msg)
    try:
        return to_bgr8(decoded)
    except ValueError as exc:
        msg = f"Cannot use {path}: {exc}. Convert it to an 8- or 16-bit PNG."
        raise CorruptFrameError(msg) from exc


def encode_frame(image: np.ndarray, suffix: str) -> bytes:
    """Encode ``image`` for a file with extension ``suffix`` (".png", ".jpg", ...)."""
    suffix = suffix.lower()
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 95]
    try:
        ok, buf = cv2.imencode(suffix, image, params)
    except cv2.error as exc:  # e.g. WebP is limited to 16383 pixels a side
        h, w = image.shape[:2]
        msg = f"OpenCV cannot write a {w}x{h} {suffix} image ({_cv2_reason(exc)}); use .png for the output."
        raise InputError(msg) from exc
    if not ok:
        msg = f"OpenCV cannot encode {suffix} images; use .png or .jpg."
        raise InputError(msg)
    return buf.tobytes()


def _cv2_reason(exc: Exception) -> str:
    """The last meaningful line of an OpenCV error, without its source-file clutter."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[-1] if lines else type(exc).__name__
    return reason.split(") ", 1)[-1] if reason.startswith("(") else reason


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    The bytes go to a hidden temporary file in the same folder, which then
    replaces ``path``; a crash or Ctrl-C never leaves a half-written file.
    Raises InputError when the folder cannot be written (full disk, permissions).
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        msg = f"Cannot write in {path.parent}: {exc.strerror or exc}. Check the folder exists and is writable."
        raise InputError(msg) from exc
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600 files; outputs get the usual umask-based mode
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).replace(path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        if isinstance(exc, OSError):
            msg = f"Cannot write {path}: {exc.strerror or exc}. Check free disk space and permissions."
            raise InputError(msg) from exc
        raise


def new_file_mode() -> int:
    """The mode a new output file gets (0o666 less the umask), as files made with open() do."""
    return 0o666 & ~_umask()


@functools.cache
def _umask() -> int:
    # Reading the umask means setting it: do it once, at first use (not at import).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_frame(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Encode ``image`` in the format of ``path``'s extension and write it atomically."""
    path = Path(path)
    write_bytes_atomic(path, encode_frame(image, path.suffix))


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_output_folder(output: str | os.PathLike[str], *inputs: str | os.PathLike[str], create: bool = True) -> Path:
    """Refuse an output folder that is, or lies inside, an input folder; create it if needed.

    Returns the output path. Existing files in it are left alone. With ``create=False`` only the checks
    run (for a folder written after work that may still fail).
    """
    if not str(output).strip():
        msg = "No output folder given: enter a new or empty folder for the results."
        raise InputError(msg)
    out = Path(output).expanduser()
    out_real = _resolved(out)
    for given in inputs:
        inp_real = _resolved(Path(given).expanduser())
        if out_real == inp_real or inp_real in out_real.parents:
            msg = (
                f"The output folder {out} is {'the same as' if out_real == inp_real else 'inside'} the input "
                f"folder {given}. Inputs are never modified: choose a separate output folder."
            )
            raise InputError(msg)
    if out.exists() and not out.is_dir():
        msg = f"The output path is a file, not a folder: {out}. Choose a folder."
        raise InputError(msg)
    if not create:
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"Cannot create the output folder {out}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    return out


def read_ahead(read: Callable[[T], R], items: Iterable[T], *, workers: int = 2, depth: int = 4) -> Iterator[R]:
    """Yield ``read(item)`` for each item, in order, computing up to ``depth`` ahead on threads.

    OpenCV's codecs release the GIL, so decoding overlaps with processing while
    memory stays bounded by ``depth`` frames. Closing the generator stops reading.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="abysz-read") as pool:
        pending: deque[Future[R]] = deque()
        iterator = iter(items)
        try:
            for item in iterator:
                pending.append(pool.submit(read, item))
                if len(pending) >= depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()


@dataclass
class WriteBehind:
    """Write frames on worker threads, keeping at most ``depth`` writes in flight.

    Use as a context manager; leaving it waits for every write and re-raises the
    first failure. ``on_written(index)`` runs, in submission order, once every
    frame up to ``index`` is on disk, so a resume record never runs ahead of
    the files.
    """

    workers: int = 2
    depth: int = 4
    on_written: Callable[[int], None] | None = None
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _pending: deque = field(default_factory=deque, init=False, repr=False)
    _failed: bool = field(default=False, init=False, repr=False)

    def __enter__(self) -> WriteBehind:
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="abysz-write")
        return self

    def submit(self, index: int, path: Path, image: np.ndarray) -> None:
        """Queue ``image`` to be written to ``path`` as frame number ``index``."""
        if self._pool is None:
            msg = "WriteBehind must be used as a context manager"
            raise RuntimeError(msg)
        self._pending.append((index, self._pool.submit(write_frame, path, image)))
        while len(self._pending) >= self.depth:
            self._retire_oldest()

    def _retire_oldest(self) -> None:
        index, fut = self._pending.popleft()
        try:
            fut.result()
        except BaseException:
            self._failed = True
            raise
        # After a failed write, later frames are not "written up to here": the resume record must stop.
        if self.on_written is not None and not self._failed:
            self.on_written(index)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            while self._pending:
                try:
                    self._retire_oldest()
                except Exception:
                    # Already failing: keep the first error, but still wait for every other write.
                    if exc_type is None:
                        raise
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


def fit_to_size(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop ``image`` to the aspect ratio ``width:height``, then resize bilinearly.

    Returns the input unchanged when it already has that size.
    """
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    target = width / height
    if abs(w / h - target) > 1e-6:
        if w / h > target:
            new_w = max(1, round(h * target))
            x0 = (w - new_w) // 2
            image = image[:, x0 : x0 + new_w]
        else:
            new_h = max(1, round(w / target))
            y0 = (h - new_h) // 2
            image = image[y0 : y0 + new_h, :]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
