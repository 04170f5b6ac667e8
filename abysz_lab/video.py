"""Video in, video out: extract frames, assemble MP4/GIF, compare runs (style fuse is :mod:`abysz_lab.fuse`).

Everything runs on the ffmpeg binary that the ``imageio-ffmpeg`` wheel ships
(nothing is expected on PATH). ffmpeg is started with argument lists, never a
shell string; raw BGR frames travel through its stdin/stdout, so frame files
are read and written by :mod:`abysz_lab.frames` with the project's rules
(natural order, atomic writes, unicode paths).

Timing: :func:`extract_frames` samples on time (a 2.0 s clip at 10 fps gives 20
frames, whatever the source's rate, constant or variable) and leaves a sidecar
(:data:`SIDECAR_NAME`) with the rate, the duration and the source path, from
which :func:`assemble_video` restores the timing and the sound. Before its
first frame it marks the sidecar unfinished, so the frames of a cancelled or
failed extraction (possibly a mix of two videos) are never taken as complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from abysz_lab import params as prm
from abysz_lab.errors import Cancelled, InputError, MissingDependencyError
from abysz_lab.frames import (
    IMAGE_EXTENSIONS,
    FrameFolder,
    WriteBehind,
    check_output_folder,
    fit_to_size,
    list_frames,
    new_file_mode,
    read_ahead,
    read_frame,
    write_bytes_atomic,
)
from abysz_lab.jobs import (
    CancelToken,
    ProgressCallback,
    RunSummary,
    report,
)
from abysz_lab.locks import file_lock, folder_lock

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".gif")
SIDECAR_NAME = ".video.abysz.json"
DEFAULT_FPS = Fraction(24)
# Audio codecs every browser plays from an MP4; anything else is re-encoded to AAC.
_MP4_AUDIO_COPY = ("aac", "mp3")
_COMPONENT = re.compile(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*")  # "[in#0 @ 0x55...] " before ffmpeg's messages
# Decoding with exact rounding and interpolated chroma gains ~2 dB PSNR over swscale's defaults; on the
# encoding side the same flags gain ~0.2 dB for ~25 % of the speed, so they are used for extraction only.
_SWS_EXACT = "accurate_rnd+full_chroma_int"
_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # no console flashing up on Windows


# --- parameters --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtractParams:
    """Options of :func:`extract_frames`."""

    fps: float = prm.param(
        0.0,
        label="Frames per second",
        help="Sample the video at this rate (time-based: 2 s at 10 fps = 20 frames). 0 = the video's own rate.",
        minimum=0.0,
        maximum=240.0,
        step=0.5,
    )
    start: float = prm.param(
        0.0, label="Start (s)", help="Skip the video before this time, in seconds.", minimum=0.0, maximum=86400.0
    )
    end: float = prm.param(
        0.0,
        label="End (s)",
        help="Stop at this time, in seconds (0 = to the end).",
        minimum=0.0,
        maximum=86400.0,
    )
    max_size: int = prm.param(
        0,
        label="Max size (px)",
        help="Scale frames down so the longer side is at most this many pixels (0 = original size).",
        minimum=0,
        maximum=8192,
        step=8,
    )
    image_format: str = prm.param(
        "png", label="Frame format", help="File format of the frames.", choices=("png", "jpg", "webp")
    )

    def __post_init__(self) -> None:
        prm.validate(self)
        if self.end and self.end <= self.start:
            msg = f"End ({self.end:g} s) must be after start ({self.start:g} s), or 0 for the end of the video."
            raise InputError(msg)


@dataclass(frozen=True)
class AssembleParams:
    """Options of :func:`assemble_video` (MP4 or GIF, chosen by the output's extension)."""

    fps: float = prm.param(
        0.0,
        label="Frames per second",
        help="Playback rate. 0 = the rate recorded when the frames were extracted (24 if there is none).",
        minimum=0.0,
        maximum=240.0,
        step=0.5,
    )
    audio: bool = prm.param(
        True,
        label="Keep the sound",
        help="Copy the sound of the original video (found through the extraction sidecar) into the MP4.",
    )
    quality: int = prm.param(
        18,
        label="Quality (CRF)",
        help="H.264 constant rate factor: lower is better and bigger; 18 looks lossless to most eyes.",
        minimum=0,
        maximum=51,
        step=1,
    )
    preset: str = prm.param(
        "medium",
        label="Encoder speed",
        help="x264 preset: faster presets make bigger files at the same quality.",
        choices=("ultrafast", "veryfast", "faster", "fast", "medium", "slow", "veryslow"),
    )
    gif_max_size: int = prm.param(
        480,
        label="GIF max size (px)",
        help="GIF only: scale down so the longer side is at most this (0 = original size); GIFs grow fast.",
        minimum=0,
        maximum=4096,
        step=8,
    )

    def __post_init__(self) -> None:
        prm.validate(self)


@dataclass(frozen=True)
class CompareParams:
    """Options of :func:`compare_videos`."""

    layout: str = prm.param(
        "side_by_side",
        label="Layout",
        help="side_by_side: the clips next to each other, labelled. split: left half of the first clip, "
        "right half of the second.",
        choices=("side_by_side", "split"),
    )
    fps: float = prm.param(
        0.0,
        label="Frames per second",
        help="Playback rate. 0 = the rate of the extraction sidecar found next to an input (24 if none).",
        minimum=0.0,
        maximum=240.0,
        step=0.5,
    )
    max_width: int = prm.param(
        1920,
        label="Max width (px)",
        help="Scale the whole comparison down to at most this width (0 = no limit).",
        minimum=0,
        maximum=8192,
        step=16,
    )
    quality: int = prm.param(
        20, label="Quality (CRF)", help="H.264 constant rate factor (lower = better).", minimum=0, maximum=51
    )

    def __post_init__(self) -> None:
        prm.validate(self)


# --- ffmpeg ---------------------------------------------------------------------------------


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped in the imageio-ffmpeg wheel."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        msg = "Video needs the imageio-ffmpeg package (it ships ffmpeg): pip install imageio-ffmpeg"
        raise MissingDependencyError(msg) from exc
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        msg = (
            f"imageio-ffmpeg found no ffmpeg binary ({exc}); reinstall it: pip install --force-reinstall imageio-ffmpeg"
        )
        raise MissingDependencyError(msg) from exc


class _FFmpeg:
    """One ffmpeg process; stderr is drained on a thread (its tail kept for messages).

    Leaving the context kills the process if it still runs, so a cancel or an
    error never leaves ffmpeg behind.
    """

    def __init__(self, args: Sequence[str], *, stdin: bool = False, stdout: bool = False, keep: int = 40) -> None:
        self.args = [ffmpeg_exe(), "-hide_banner", "-nostats", *args]
        if not stdin:
            self.args.insert(1, "-nostdin")
        self.stdin_pipe = stdin
        self.stdout_pipe = stdout
        self.tail: deque[str] = deque(maxlen=keep)
        self.lines = 0  # every line ffmpeg wrote to stderr; at -loglevel error each one is an error
        self.proc: subprocess.Popen | None = None
        self._drain: threading.Thread | None = None

    def __enter__(self) -> _FFmpeg:
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE if self.stdin_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.stdout_pipe else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            creationflags=_NO_WINDOW,
        )
        self._drain = threading.Thread(target=self._read_stderr, name="abysz-ffmpeg-stderr", daemon=True)
        self._drain.start()
        return self

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.tail.append(line)
                self.lines += 1

    def finish(self) -> int:
        """Close stdin (if piped), wait for ffmpeg and its stderr; return the exit status."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.proc.stdin.close()
        code = self.proc.wait()
        if self._drain is not None:
            self._drain.join(timeout=5)
        return code

    def errors(self) -> str:
        """The gist of ffmpeg's last lines, for a message: the component prefixes and repeats dropped."""
        lines: list[str] = []
        for line in self.tail:
            text = _COMPONENT.sub("", line).strip().rstrip(".")
            if text and not text.startswith("Error opening input file") and text not in lines:
                lines.append(text)
        return "; ".join(lines[-3:]) or "no message"

    def __exit__(self, exc_type, exc, tb) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        proc.wait()
        if self._drain is not None:
            self._drain.join(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()


# --- probing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInfo:
    """What ffmpeg says about a video file's first video stream (and whether it has sound)."""

    path: Path
    width: int  # as displayed, i.e. after the rotation ffmpeg applies
    height: int
    fps: Fraction  # average frame rate
    duration: float | None  # seconds; None when the container does not say
    codec: str
    has_audio: bool
    audio_codec: str = ""
    rotation: int = 0
    variable_frame_rate: bool = False


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (\w+)(.*)$", re.MULTILINE)
_SIZE = re.compile(r", (\d+)x(\d+)\b")
_RATE = re.compile(r"([\d.]+)(k?) (fps|tbr)\b")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees", re.IGNORECASE)


def _rate_from_text(number: str, kilo: str) -> Fraction:
    value = float(number) * (1000 if kilo else 1)
    # ffmpeg prints NTSC rates rounded (29.97); recover the exact x000/1001 fraction.
    whole = round(value * 1.001)
    if abs(value - round(value)) > 0.005 and abs(whole * 1000 / 1001 - value) < 0.006:
        return Fraction(whole * 1000, 1001)
    return Fraction(value).limit_denominator(1001)


def _rotation_of_first_video(text: str) -> int:
    # Side data (the display matrix) is printed under its stream's line, before the next stream.
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if _STREAM.match(line) and ": Video: " in line)
    for line in lines[first + 1 :]:
        if "Stream #" in line:
            break
        found = _ROTATION.search(line)
        if found:
            return round(float(found.group(1))) % 360
    return 0


def parse_probe(text: str, path: Path) -> VideoInfo:
    """Build a :class:`VideoInfo` from what ``ffmpeg -i`` printed; raise InputError if it has no video."""
    streams = _STREAM.findall(text)
    video = next((s for s in streams if s[0] == "Video"), None)
    if video is None:
        what = "only sound" if any(s[0] == "Audio" for s in streams) else "no video frames"
        msg = f"{path.name} holds {what}: there is nothing to extract. Choose a video file with pictures."
        raise InputError(msg)
    _, codec, rest = video
    size = _SIZE.search(rest)
    if size is None:
        msg = f"ffmpeg does not report the picture size of {path.name}; the file is damaged. Re-export it."
        raise InputError(msg)
    width, height = int(size.group(1)), int(size.group(2))
    rates = {kind: _rate_from_text(num, kilo) for num, kilo, kind in _RATE.findall(rest)}
    fps = rates.get("fps") or rates.get("tbr") or DEFAULT_FPS
    rotation = _rotation_of_first_video(text)
    if rotation in (90, 270):
        width, height = height, width
    duration_match = _DURATION.search(text)
    duration = None
    if duration_match:
        h, m, s = duration_match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    audio = next((s for s in streams if s[0] == "Audio"), None)
    tbr = rates.get("tbr")
    return VideoInfo(
        path=path,
        width=width,
        height=height,
        fps=fps,
        duration=duration,
        codec=codec,
        has_audio=audio is not None,
        audio_codec=audio[1] if audio else "",
        rotation=rotation,
        variable_frame_rate=tbr is not None and abs(float(tbr) - float(fps)) > 0.01,
    )


def _check_video_path(video: str | os.PathLike[str], role: str = "video") -> Path:
    if not str(video).strip():
        msg = f"No {role} file given: enter the path of a video file."
        raise InputError(msg)
    path = Path(video).expanduser()
    if not path.exists():
        msg = f"The {role} file does not exist: {path}. Check the path."
        raise InputError(msg)
    if path.is_dir():
        msg = f"The {role} path is a folder, not a video file: {path}."
        raise InputError(msg)
    if path.stat().st_size == 0:
        msg = f"The {role} file is empty (0 bytes): {path}. Copy or export it again."
        raise InputError(msg)
    return path


def probe_video(video: str | os.PathLike[str]) -> VideoInfo:
    """Describe a video file: size, average frame rate, duration, codec, sound.

    Raises InputError for a missing, empty, unreadable or truncated file, or one
    without a video stream.
    """
    path = _check_video_path(video)
    with _FFmpeg(["-i", str(path)], keep=5000) as ff:
        ff.finish()
    text = "\n".join(ff.tail)
    if "Input #0" not in text:
        reason = ff.errors()
        msg = (
            f"{path.name} is not a video ffmpeg can read, or it is truncated ({reason}). "
            f"Supported: {', '.join(e.lstrip('.') for e in VIDEO_EXTENSIONS)}; re-export or re-download it."
        )
        raise InputError(msg)
    return parse_probe(text, path)


# --- the extraction sidecar -------------------------------------------------------------------


@dataclass(frozen=True)
class VideoTiming:
    """What extraction records next to the frames, so assembly restores timing and sound."""

    source: str
    fps: Fraction
    duration: float
    start: float
    end: float
    frame_count: int
    width: int
    height: int
    has_audio: bool
    names: tuple[str, ...] = field(default=(), repr=False)
    identity: dict = field(default_factory=dict, repr=False)  # source size/mtime and the extract options
    complete: bool = True  # False while an extraction runs, and after one that was cancelled or failed

    def to_json(self) -> str:
        """Serialise for the sidecar file."""
        return json.dumps(
            {
                "source": self.source,
                "fps": f"{self.fps.numerator}/{self.fps.denominator}",
                "fps_float": float(self.fps),
                "duration": self.duration,
                "start": self.start,
                "end": self.end,
                "frame_count": self.frame_count,
                "width": self.width,
                "height": self.height,
                "has_audio": self.has_audio,
                "names": list(self.names),
                "identity": self.identity,
                "complete": self.complete,
            },
            indent=1,
        )


def read_timing(location: str | os.PathLike[str]) -> VideoTiming:
    """Read the sidecar of a finished extraction from a frames folder or from the sidecar file itself.

    Raises InputError when there is none, it is unreadable, or the extraction
    did not finish (its frames may be partial or a mix of two videos).
    """
    timing = _load_timing(location)
    if not timing.complete:
        msg = (
            f"The extraction of {Path(timing.source).name} into {_sidecar_path(location).parent} did not finish "
            "(cancelled or failed), so its frames may be partial or mixed with another video's: extract the "
            "video again."
        )
        raise InputError(msg)
    return timing


def _sidecar_path(location: str | os.PathLike[str]) -> Path:
    path = Path(location).expanduser()
    return path / SIDECAR_NAME if path.is_dir() else path


def _load_timing(location: str | os.PathLike[str]) -> VideoTiming:
    """Read an extraction sidecar, finished or not."""
    path = _sidecar_path(location)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return VideoTiming(
            source=str(data["source"]),
            fps=Fraction(data["fps"]),
            duration=float(data["duration"]),
            start=float(data.get("start", 0.0)),
            end=float(data.get("end", 0.0)),
            frame_count=int(data["frame_count"]),
            width=int(data["width"]),
            height=int(data["height"]),
            has_audio=bool(data.get("has_audio", False)),
            names=tuple(data.get("names", ())),
            identity=dict(data.get("identity", {})),
            # Sidecars written before the flag existed were written only by finished extractions.
            complete=bool(data.get("complete", True)),
        )
    except FileNotFoundError as exc:
        msg = f"No extraction sidecar ({SIDECAR_NAME}) at {path.parent}: give the folder the frames were extracted to."
        raise InputError(msg) from exc
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        msg = f"The extraction sidecar {path} is unreadable ({exc}); extract the video again."
        raise InputError(msg) from exc


def _find_timing(*folders: Path, finished: bool = True) -> VideoTiming | None:
    for folder in folders:
        if (folder / SIDECAR_NAME).is_file():
            return read_timing(folder) if finished else _load_timing(folder)
    return None


# --- shared helpers -----------------------------------------------------------------------------


def _fraction(fps: float) -> Fraction:
    return _rate_from_text(repr(float(fps)), "")


def fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Size of a ``width`` x ``height`` picture scaled down so its longer side is <= ``max_side`` (0 = off)."""
    if max_side <= 0 or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def pad_to_even(image: np.ndarray) -> np.ndarray:
    """Repeat the last row/column when a side is odd: H.264 in yuv420p needs even sides."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)


def _check_output_file(
    output: str | os.PathLike[str],
    suffixes: Sequence[str],
    *inputs: Path,
    overwrite: bool,
    input_folders: Sequence[Path] = (),
) -> Path:
    if not str(output).strip():
        msg = "No output file given: enter a path ending in " + " or ".join(suffixes) + "."
        raise InputError(msg)
    out = Path(output).expanduser()
    if out.suffix.lower() not in suffixes:
        msg = f"The output {out.name} must end in {' or '.join(suffixes)}."
        raise InputError(msg)
    if out.is_dir():
        msg = f"The output path is a folder: {out}. Give a file name, e.g. {out / ('result' + suffixes[0])}."
        raise InputError(msg)
    real = os.path.realpath(out)
    for given in inputs:
        if real == os.path.realpath(given):
            msg = f"The output {out} is one of the inputs. Inputs are never modified: choose another file name."
            raise InputError(msg)
    for folder in input_folders:
        if Path(folder).resolve() in Path(real).parents:
            msg = (
                f"The output {out} is inside the input folder {folder}. Nothing is ever written into an input "
                "folder: choose a file elsewhere."
            )
            raise InputError(msg)
    if out.exists() and not overwrite:
        msg = f"{out} already exists. Choose another name, or allow overwriting (--overwrite)."
        raise InputError(msg)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"Cannot create the folder {out.parent}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    return out


@contextlib.contextmanager
def _temp_beside(out: Path) -> Iterator[Path]:
    """A hidden temporary file next to ``out`` that replaces it on success and vanishes otherwise."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f".part{out.suffix}", dir=out.parent)
    except OSError as exc:
        msg = f"Cannot write in {out.parent}: {exc.strerror or exc}. Check the folder is writable, or choose another."
        raise InputError(msg) from exc
    if hasattr(os, "fchmod"):  # mkstemp makes 0600 files; a video gets the umask-based mode frames get
        os.fchmod(fd, new_file_mode())
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.replace(out)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _x264_args(quality: int, preset: str) -> list[str]:
    # yuv420p + faststart: the MP4 plays in every browser and in gr.Video.
    encoder = ["-c:v", "libx264", "-preset", preset, "-crf", str(quality), "-pix_fmt", "yuv420p"]
    return [*encoder, "-movflags", "+faststart"]


def _raw_input_args(width: int, height: int, fps: Fraction) -> list[str]:
    rate = f"{fps.numerator}/{fps.denominator}"
    return ["-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-framerate", rate, "-i", "pipe:0"]


def _pipe_frames(
    ff: _FFmpeg,
    frames: Iterator[np.ndarray],
    total: int,
    *,
    start: float,
    progress: ProgressCallback | None,
    cancel: CancelToken,
    message: str,
) -> int:
    """Write frames to ffmpeg's stdin; return how many. Raises Cancelled or InputError on ffmpeg failure."""
    done = 0
    for image in frames:
        if cancel.cancelled:
            msg = f"Cancelled after {done} of {total} frames; nothing was written."
            raise Cancelled(msg)
        try:
            ff.proc.stdin.write(np.ascontiguousarray(image).tobytes())
        except (BrokenPipeError, OSError) as exc:
            ff.finish()
            msg = f"ffmpeg stopped while encoding frame {done + 1}: {ff.errors()}"
            raise InputError(msg) from exc
        done += 1
        report(progress, done, total, start, message)
    code = ff.finish()
    if code != 0:
        msg = f"ffmpeg failed to write the video (exit status {code}): {ff.errors()}"
        raise InputError(msg)
    return done


# --- extract ------------------------------------------------------------------------------------


def frame_name(index: int, image_format: str = "png", *, digits: int = 5) -> str:
    """Zero-padded name of frame ``index`` (0-based): ``frame_00001.png``, which sorts right everywhere."""
    return f"frame_{index + 1:0{digits}d}.{image_format}"


def _check_extract_folder(out: Path, names: Sequence[str], video: Path, *, overwrite: bool) -> VideoTiming | None:
    """Refuse a folder holding another video's frames or images this tool did not extract; return its sidecar.

    Another video's frames are someone's img2img input: replacing them takes
    ``overwrite``, like images written by anything else.
    """
    previous = _find_timing(out, finished=False)
    if overwrite:
        return previous
    source = os.path.realpath(video)
    if previous is not None and previous.source != source:
        msg = (
            f"The output folder {out} holds the frames of another video ({Path(previous.source).name}). "
            "Extracting here would replace them: choose another folder, or allow overwriting (--overwrite)."
        )
        raise InputError(msg)
    ours = set(previous.names) if previous is not None else set()
    images = [p for p in out.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and p.name not in ours]
    if images:
        clash = next((p.name for p in images if p.name in set(names)), images[0].name)
        msg = (
            f"The output folder {out} already holds {len(images)} image(s) (e.g. {clash}) that were not extracted "
            "here. Frames of two clips in one folder would be mixed up later: choose an empty folder, or allow "
            "overwriting (--overwrite)."
        )
        raise InputError(msg)
    return previous


def _sampling_rate(info: VideoInfo, fps: float | Fraction) -> Fraction:
    if isinstance(fps, Fraction) and fps > 0:
        return fps
    return _fraction(fps) if fps > 0 else info.fps


def expected_frames(info: VideoInfo, rate: Fraction, start: float = 0.0, end: float = 0.0) -> int:
    """Frames that time-based sampling at ``rate`` gives between ``start`` and ``end`` (0 = unknown).

    ``end`` 0 or past the end means the end of the video: 2.0 s at 10 fps is 20 frames.
    """
    stop = end if end > 0 and (info.duration is None or end < info.duration) else info.duration
    if stop is None or stop <= start:
        return 0
    return round((stop - start) * rate)


def iter_video_frames(
    video: str | os.PathLike[str],
    *,
    fps: float | Fraction = 0.0,
    start: float = 0.0,
    end: float = 0.0,
    max_size: int = 0,
    info: VideoInfo | None = None,
    warnings: list[str] | None = None,
    frames_limit: int = 0,
) -> Iterator[np.ndarray]:
    """Decode a video into 8-bit BGR frames, sampled on time at ``fps`` (0 = the video's own rate).

    ``frames_limit`` (0 = all) makes ffmpeg stop after that many frames instead
    of decoding the rest. Closing the generator stops ffmpeg. Raises InputError
    when nothing can be decoded; a file that breaks off part way yields the
    frames before the break and adds a line to ``warnings``.
    """
    info = info or probe_video(video)
    rate = _sampling_rate(info, fps)
    width, height = fit_within(info.width, info.height, max_size)
    expected = expected_frames(info, rate, start, end)
    if frames_limit > 0:
        expected = min(expected, frames_limit) if expected else 0
    args: list[str] = []
    if start > 0:
        args += ["-ss", f"{start:.6f}"]
    if end > 0:
        args += ["-t", f"{end - start:.6f}"]
    # The fps filter samples on time, which also evens out variable frame rates; scale fixes
    # the frame size so the byte stream cannot go out of step.
    chain = f"fps={rate.numerator}/{rate.denominator},scale={width}:{height}:flags=area+{_SWS_EXACT},format=bgr24"
    args += ["-i", str(info.path), "-map", "0:v:0", "-vf", chain]
    if expected or frames_limit > 0:
        # The fps filter may emit one frame past the end; the count of time-based sampling is exact.
        args += ["-frames:v", str(expected or frames_limit)]
    args += ["-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    frame_bytes = width * height * 3
    with _FFmpeg(["-loglevel", "error", *args], stdout=True) as ff:
        count = 0
        while True:
            data = ff.proc.stdout.read(frame_bytes)
            if len(data) < frame_bytes:
                break
            count += 1
            yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
        code = ff.finish()
    if count == 0:
        if start > 0 and info.duration and start >= info.duration:
            msg = f"Start ({start:g} s) is past the end of {info.path.name} ({info.duration:.2f} s)."
        else:
            msg = (
                f"No frame could be decoded from {info.path.name} ({ff.errors()}). The file is truncated, damaged "
                "or empty: re-export or re-download it."
            )
        raise InputError(msg)
    if warnings is None:
        return
    if code != 0:
        warnings.append(
            f"ffmpeg stopped with an error after {count} frames of {info.path.name} (truncated or damaged file?): "
            f"{ff.errors()}"
        )
    elif expected and count < expected - max(1, expected // 50):
        warnings.append(
            f"{info.path.name} ended after {count} of the {expected} frames its length announces: the file may be "
            f"truncated ({ff.errors()})."
        )
    elif ff.lines:
        # ffmpeg conceals a damaged stretch and exits 0; the fps filter then repeats frames over the gap.
        warnings.append(
            f"ffmpeg met {ff.lines} decoding error(s) in {info.path.name}: the file is damaged, so some of the "
            f"{count} frames may be garbled or repeated ({ff.errors()}). Re-export or re-download it."
        )


def _extract_identity(video: Path, params: ExtractParams, frames_limit: int = 0) -> dict:
    stat = video.stat()
    identity = {"params": prm.as_dict(params), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    # Only a limited extraction records its limit, so the folders of earlier full extractions stay valid.
    return identity | ({"frames_limit": frames_limit} if frames_limit > 0 else {})


def _covers(previous: VideoTiming, video: Path, params: ExtractParams, frames_limit: int) -> bool:
    """True when an earlier extraction holds every frame this one would write (its limit is no lower)."""
    had = dict(previous.identity)
    had_limit = had.pop("frames_limit", 0)
    if previous.source != os.path.realpath(video) or had != _extract_identity(video, params):
        return False
    return had_limit == 0 or 0 < frames_limit <= had_limit


@dataclass(frozen=True)
class PreparedFrames:
    """A folder of frames ready for DFI; ``summary`` is None when nothing had to be extracted."""

    folder: Path
    summary: RunSummary | None = None


def prepare_frames(
    path: str | os.PathLike[str],
    work_dir: str | os.PathLike[str],
    params: ExtractParams | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
    overwrite: bool = False,
    frames_limit: int = 0,
) -> PreparedFrames:
    """Return a frame folder for ``path``: the folder itself, or ``work_dir`` holding a video's extracted frames.

    An earlier extraction in ``work_dir`` of the same, unchanged video with the
    same options is reused, so re-running DFI on a video does not decode it again;
    a folder whose last extraction did not finish is extracted again.
    ``frames_limit`` (0 = all) extracts only the first frames a limited run
    uses; an earlier extraction of at least as many is reused.
    ``overwrite`` lets the extraction replace images it finds there without a
    sidecar: pass it only for a work folder the caller owns.
    """
    given = Path(path).expanduser()
    if given.is_dir():
        return PreparedFrames(given)
    params = params or ExtractParams()
    video = _check_video_path(given)
    work = Path(work_dir).expanduser()
    if (work / SIDECAR_NAME).is_file():
        with contextlib.suppress(InputError, OSError):
            previous = read_timing(work)
            same = _covers(previous, video, params, frames_limit)
            if same and previous.names and all((work / n).is_file() for n in previous.names):
                return PreparedFrames(work)
    summary = extract_frames(
        video,
        work,
        params,
        overwrite=overwrite,
        progress=progress,
        cancel=cancel,
        workers=workers,
        frames_limit=frames_limit,
    )
    return PreparedFrames(work, summary)


def extract_frames(
    video: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    params: ExtractParams | None = None,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
    frames_limit: int = 0,
) -> RunSummary:
    """Extract a video's frames to zero-padded numbered images in ``output_dir``, plus a timing sidecar.

    Frames are sampled on time at ``params.fps`` (0 = the video's average rate),
    between ``start`` and ``end``, scaled to ``max_size``; with ``frames_limit``
    (0 = all) only the first that many are decoded and written. Re-extracting into the
    same folder replaces the earlier frames (and removes surplus ones). Raises
    InputError for unusable input and Cancelled when ``cancel`` is set.

    Examples
    --------
    >>> summary = extract_frames("clip.mp4", "clip_frames", ExtractParams(fps=10))  # doctest: +SKIP
    >>> summary.outputs[0].name  # doctest: +SKIP
    'frame_00001.png'
    """
    params = params or ExtractParams()
    start_time = time.perf_counter()
    info = probe_video(video)
    out = check_output_folder(output_dir)
    warnings: list[str] = []
    with folder_lock(out, "Extract", warnings=warnings):  # one writer per folder
        rate = _sampling_rate(info, params.fps)
        end = params.end
        if info.duration and end > info.duration:
            end = 0.0
        estimate = expected_frames(info, rate, params.start, end)
        digits = max(5, len(str(estimate * 2)))  # from the whole span: a limited run names frames as a full one
        if frames_limit > 0:
            estimate = min(estimate, frames_limit) if estimate else 0
        names = [frame_name(i, params.image_format, digits=digits) for i in range(max(estimate, 1))]
        previous = _check_extract_folder(out, names, info.path, overwrite=overwrite)

        if info.variable_frame_rate and params.fps <= 0:
            warnings.append(
                f"{info.path.name} has a variable frame rate; frames were sampled evenly at its average rate "
                f"({float(rate):.3f} fps)."
            )
        cancel = cancel or CancelToken()
        report(progress, 0, estimate, start_time, "Starting")
        width, height = fit_within(info.width, info.height, params.max_size)
        earlier = previous.names if previous is not None else ()
        written: list[str] = []

        def sidecar(listed: Sequence[str], *, complete: bool) -> bytes:
            # A limited extraction that ran out of video before its limit holds the whole span: no limit to record.
            limit = frames_limit if len(written) >= frames_limit else 0
            timing = VideoTiming(
                source=os.path.realpath(info.path),
                fps=rate,
                duration=float(len(written) / rate),
                start=params.start,
                end=end,
                frame_count=len(written),
                width=width,
                height=height,
                has_audio=info.has_audio,
                names=tuple(listed),
                # An unfinished sidecar matches no identity, so prepare_frames never reuses its folder.
                identity=_extract_identity(info.path, params, limit) if complete else {},
                complete=complete,
            )
            return timing.to_json().encode("utf-8")

        def unfinished() -> bytes:
            # Every name that may be on disk, so the next extraction here removes what it does not rewrite.
            return sidecar(list(dict.fromkeys([*earlier, *names, *written])), complete=False)

        write_bytes_atomic(out / SIDECAR_NAME, unfinished())
        frames = iter_video_frames(
            info.path,
            fps=rate,
            start=params.start,
            end=end,
            max_size=params.max_size,
            info=info,
            warnings=warnings,
            frames_limit=frames_limit,
        )
        finished = False
        try:
            with contextlib.closing(frames), WriteBehind(workers=workers, depth=workers + 2) as writer:
                for index, image in enumerate(frames):
                    if cancel.cancelled:
                        break
                    name = frame_name(index, params.image_format, digits=digits)
                    writer.submit(index, out / name, image)
                    written.append(name)
                    report(progress, index + 1, max(estimate, index + 1), start_time, name)
            finished = not cancel.cancelled
        finally:
            if not finished:
                write_bytes_atomic(out / SIDECAR_NAME, unfinished())
        if cancel.cancelled:
            msg = (
                f"Cancelled after {len(written)} frames; the folder is marked unfinished, so extract the video "
                "again before using it."
            )
            raise Cancelled(msg)

        keep = set(written)
        for stale in earlier:
            if stale not in keep and "/" not in stale and "\\" not in stale:
                with contextlib.suppress(FileNotFoundError):
                    (out / stale).unlink()
        write_bytes_atomic(out / SIDECAR_NAME, sidecar(written, complete=True))
        report(progress, len(written), len(written), start_time, "Done")
        return RunSummary(
            operation="Extract",
            output=out,
            written=len(written),
            total=len(written),
            seconds=time.perf_counter() - start_time,
            warnings=warnings,
            outputs=[out / n for n in written],
        )


# --- assemble ------------------------------------------------------------------------------------


def _fitted_frames(folder: FrameFolder, size: tuple[int, int], workers: int, mismatched: list[str]) -> Iterator:
    """Read frames in order, fitting any of another size to ``size`` (their names go to ``mismatched``)."""

    def load(path: Path) -> np.ndarray:
        image = read_frame(path)
        if (image.shape[1], image.shape[0]) != size:
            mismatched.append(path.name)
            image = fit_to_size(image, *size)
        return image

    return read_ahead(load, folder.frames, workers=workers, depth=workers + 2)


def _audio_input(audio_source: Path, timing: VideoTiming | None) -> list[str]:
    """Input options for the sound source, trimmed to the span the frames were extracted from."""
    trim: list[str] = []
    if timing is not None and timing.start > 0:
        trim += ["-ss", f"{timing.start:.6f}"]
    if timing is not None and timing.end > 0:
        trim += ["-t", f"{timing.end - timing.start:.6f}"]
    return [*trim, "-i", str(audio_source)]


def assemble_video(
    frames_dir: str | os.PathLike[str],
    output: str | os.PathLike[str],
    params: AssembleParams | None = None,
    *,
    timing: str | os.PathLike[str] | None = None,
    audio_from: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
) -> RunSummary:
    """Encode a folder of frames as an H.264 MP4 (or a looping GIF when ``output`` ends in .gif).

    The rate comes from ``params.fps``, else from the extraction sidecar found at
    ``timing`` (a folder or the sidecar file) or in ``frames_dir``, else 24 fps.
    With ``params.audio`` the sound of ``audio_from`` (default: the sidecar's
    source video) is kept, trimmed like the frames were. Frames whose size
    differs from the first are fitted to it, with a warning. The file is written
    to a temporary name and moved into place only when complete.

    Examples
    --------
    >>> import tempfile
    >>> from abysz_lab.demo import make_demo_clip
    >>> clip = make_demo_clip(tempfile.mkdtemp(), frames=4, width=64, height=48)
    >>> summary = assemble_video(clip.generated, clip.root / "clip.mp4", AssembleParams(fps=12))
    >>> summary.written, summary.output.stat().st_size > 0
    (4, True)
    """
    params = params or AssembleParams()
    start = time.perf_counter()
    folder = list_frames(frames_dir, role="frames to assemble")
    sidecar = read_timing(timing) if timing is not None else _find_timing(folder.folder)
    audio_path = _check_video_path(audio_from, "sound source") if audio_from is not None else None
    is_gif = Path(output).suffix.lower() == ".gif"
    inputs = [p for p in (audio_path, Path(sidecar.source) if sidecar else None) if p is not None]
    timing_folder = [Path(timing).expanduser()] if timing is not None and Path(timing).expanduser().is_dir() else []
    out = _check_output_file(
        output, (".mp4", ".gif"), *inputs, overwrite=overwrite, input_folders=[folder.folder, *timing_folder]
    )
    warnings = [folder.skipped_summary] if folder.skipped_summary else []

    if params.fps > 0:
        rate = _fraction(params.fps)
    elif sidecar is not None:
        rate = sidecar.fps
    else:
        rate = DEFAULT_FPS
        warnings.append("No frame rate given and no extraction sidecar found: using 24 fps.")

    audio_in: list[str] = []
    audio_out: list[str] = []
    if params.audio and not is_gif:
        source = audio_path or (Path(sidecar.source) if sidecar and sidecar.has_audio else None)
        if source is not None and not source.is_file():
            warnings.append(f"The original video {source} is gone: the MP4 has no sound.")
        elif source is not None:
            info = probe_video(source)
            if info.has_audio:
                codec = ["-c:a", "copy"] if info.audio_codec in _MP4_AUDIO_COPY else ["-c:a", "aac", "-b:a", "192k"]
                audio_in = _audio_input(source, sidecar if audio_path is None else None)
                # Cut the sound at the last frame; -shortest would instead drop frames when the sound is shorter.
                audio_out = ["-map", "1:a:0", *codec, "-t", f"{float(len(folder) / rate):.6f}"]
            else:
                warnings.append(f"{source.name} has no sound track: the MP4 is silent.")

    first = read_frame(folder.frames[0])
    size = (first.shape[1], first.shape[0])
    even = (size[0] + size[0] % 2, size[1] + size[1] % 2)
    total = len(folder)
    mismatched: list[str] = []
    cancel = cancel or CancelToken()
    report(progress, 0, total, start, "Starting")

    if is_gif:
        gif_w, gif_h = fit_within(size[0], size[1], params.gif_max_size)
        graph = (
            f"scale={gif_w}:{gif_h}:flags=lanczos,split[a][b];[a]palettegen=stats_mode=diff[p];"
            "[b][p]paletteuse=dither=bayer:bayer_scale=4"
        )
        encode = ["-filter_complex", graph, "-loop", "0", "-f", "gif"]
        in_size = size
    else:
        encode = ["-map", "0:v:0", *audio_out, *_x264_args(params.quality, params.preset)]
        encode += ["-f", "mp4"]
        in_size = even

    with file_lock(out, "Assemble"), _temp_beside(out) as tmp:
        args = ["-loglevel", "error", "-y", *_raw_input_args(*in_size, rate), *audio_in, *encode, str(tmp)]
        frames = _fitted_frames(folder, size, workers, mismatched)
        if not is_gif:
            frames = (pad_to_even(f) for f in frames)
        with contextlib.closing(frames), _FFmpeg(args, stdin=True) as ff:
            done = _pipe_frames(ff, frames, total, start=start, progress=progress, cancel=cancel, message=out.name)
    if mismatched:
        warnings.append(
            f"{len(mismatched)} frame(s) (e.g. {mismatched[0]}) differ in size from the first frame "
            f"({size[0]}x{size[1]}) and were fitted to it (centre crop, then resize)."
        )
    if even != size and not is_gif:
        warnings.append(f"Frames are {size[0]}x{size[1]}; H.264 needs even sides, so the edge was repeated.")
    return RunSummary(
        operation="Assemble GIF" if is_gif else "Assemble MP4",
        output=out,
        written=done,
        total=total,
        seconds=time.perf_counter() - start,
        skipped_inputs=len(folder.skipped_files) + len(folder.skipped_dirs),
        warnings=warnings,
        outputs=[out],
    )


# --- compare ----------------------------------------------------------------------------------------


def default_labels(inputs: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    """Captions for compared folders: their names, with as many parent folders as it takes to tell them apart."""
    parts = [Path(p).expanduser().absolute().parts for p in inputs]
    depth = 1
    while True:
        labels = tuple("/".join(p[-depth:]) for p in parts)
        if len(set(labels)) == len(labels) or depth >= max(len(p) for p in parts):
            return labels
        depth += 1


def _label_bar(width: int, height: int, text: str) -> np.ndarray:
    bar = np.zeros((height, width, 3), np.uint8)
    scale = max(0.3, height / 32)
    thickness = max(1, round(height / 20))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x = max(2, (width - tw) // 2)
    y = (height + th) // 2
    cv2.putText(bar, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return bar


def label_height(frame_height: int) -> int:
    """Height of the caption bar above comparison panels (even, readable at any size)."""
    return max(16, round(frame_height * 0.08)) // 2 * 2


def side_by_side(frames: Sequence[np.ndarray], labels: Sequence[str]) -> np.ndarray:
    """Put equally sized frames next to each other, each under a caption bar."""
    h, w = frames[0].shape[:2]
    bar_h = label_height(h)
    panels = [np.vstack([_label_bar(w, bar_h, text), frame]) for frame, text in zip(frames, labels, strict=True)]
    return np.hstack(panels)


def split_view(left: np.ndarray, right: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Left half of ``left`` beside the right half of ``right``, a line between, captions above each half."""
    h, w = left.shape[:2]
    half = w // 2
    body = np.concatenate([left[:, :half], right[:, half:]], axis=1)
    body[:, max(0, half - 1) : half + 1] = 255
    bar_h = label_height(h)
    bar = np.hstack([_label_bar(half, bar_h, labels[0]), _label_bar(w - half, bar_h, labels[1])])
    return np.vstack([bar, body])


def compare_videos(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    params: CompareParams | None = None,
    *,
    labels: Sequence[str] | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
) -> RunSummary:
    """Write one MP4 comparing frame folders (e.g. original | generated | stabilised).

    Frames are paired by natural order (the shortest folder sets the length) and
    fitted to the size of the LAST folder's first frame. ``side_by_side`` takes
    1-4 folders; ``split`` takes exactly 2. Labels default to the folder names.
    """
    params = params or CompareParams()
    start = time.perf_counter()
    count = len(inputs)
    if params.layout == "split" and count != 2:
        msg = f"The split view compares exactly 2 frame folders; {count} were given."
        raise InputError(msg)
    if not 1 <= count <= 4:
        msg = f"Compare takes 1 to 4 frame folders side by side; {count} were given."
        raise InputError(msg)
    labels = tuple(labels) if labels else default_labels(inputs)
    if len(labels) != count:
        msg = f"Give one label per input: {count} inputs but {len(labels)} labels."
        raise InputError(msg)
    folders = [list_frames(p, role=f"'{label}' frames") for p, label in zip(inputs, labels, strict=True)]
    out = _check_output_file(output, (".mp4",), overwrite=overwrite, input_folders=[f.folder for f in folders])
    total = min(len(f) for f in folders)
    warnings = [f.skipped_summary for f in folders if f.skipped_summary]
    if len({len(f) for f in folders}) > 1:
        counts = ", ".join(f"{label} {len(f)}" for label, f in zip(labels, folders, strict=True))
        warnings.append(f"The folders differ in length ({counts}): comparing the first {total} frames.")
    sidecar = _find_timing(*(f.folder for f in folders))
    if params.fps > 0:
        rate = _fraction(params.fps)
    elif sidecar is not None:
        rate = sidecar.fps
    else:
        rate = DEFAULT_FPS
        warnings.append("No frame rate given and no extraction sidecar found next to the inputs: using 24 fps.")

    ref = read_frame(folders[-1].frames[0])
    width, height = ref.shape[1], ref.shape[0]
    panels = count if params.layout == "side_by_side" else 1
    if params.max_width and width * panels > params.max_width:
        width = params.max_width // panels
        height = max(1, round(ref.shape[0] * width / ref.shape[1]))

    def compose(index: int) -> np.ndarray:
        frames = [fit_to_size(read_frame(f.frames[index]), width, height) for f in folders]
        if params.layout == "split":
            return pad_to_even(split_view(frames[0], frames[1], labels))
        return pad_to_even(side_by_side(frames, labels))

    first = compose(0)
    cancel = cancel or CancelToken()
    report(progress, 0, total, start, "Starting")
    with file_lock(out, "Compare"), _temp_beside(out) as tmp:
        args = ["-loglevel", "error", "-y", *_raw_input_args(first.shape[1], first.shape[0], rate)]
        args += [*_x264_args(params.quality, "medium"), "-f", "mp4", str(tmp)]
        frames = read_ahead(compose, range(total), workers=workers, depth=workers + 2)
        with contextlib.closing(frames), _FFmpeg(args, stdin=True) as ff:
            done = _pipe_frames(ff, frames, total, start=start, progress=progress, cancel=cancel, message=out.name)
    return RunSummary(
        operation="Compare",
        output=out,
        written=done,
        total=total,
        seconds=time.perf_counter() - start,
        warnings=warnings,
        outputs=[out],
    )
