"""The command line: ``python -m abysz_lab <command> ...``.

A thin layer: it parses flags (generated from the parameter dataclasses), shows
a tqdm progress bar (on a terminal; one plain line per phase in a log), and maps
exceptions to one-line messages and exit codes:
0 ok, 2 bad input, 3 missing dependency, 130 cancelled.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from abysz_lab import __version__, commands
from abysz_lab import params as prm
from abysz_lab.commands import Plan
from abysz_lab.errors import AbyszError, Cancelled
from abysz_lab.frames import FrameLimits, set_frame_limits
from abysz_lab.jobs import CancelToken, Progress, RunSummary

DEFAULT_DEMO_DIR = Path("abysz_demo")


# --- shared helpers for every command ----------------------------------------------------


@contextmanager
def cancel_on_ctrl_c() -> Iterator[CancelToken]:
    """First Ctrl-C asks the run to stop after the current frame; a second one aborts at once."""
    token = CancelToken()

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()
        print("\nStopping after the current frame (Ctrl-C again to abort now)...", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield token
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def progress_bar(desc: str) -> Iterator[Callable[[Progress], None]]:
    """A tqdm bar driven by Progress reports on a terminal; one plain line per phase otherwise."""
    from tqdm import tqdm

    bar = None
    # A redirected log would get every redraw of the bar (one per frame): there, say only what starts.
    if not _is_terminal(sys.stderr):

        def announce(p: Progress) -> None:
            nonlocal bar
            if bar is None:
                bar = False
                print(f"{desc}: {p.total} frames..." if p.total else f"{desc}...", file=sys.stderr, flush=True)

        yield announce
        return

    def update(p: Progress) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=p.total, initial=p.done, desc=desc, unit="frame", dynamic_ncols=True)
        bar.n = p.done
        if p.message:
            bar.set_postfix_str(p.message, refresh=False)
        bar.refresh()

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def non_negative(text: str) -> int:
    """An argparse type: a whole number >= 0 (0 usually means "all")."""
    try:
        value = int(text)
    except ValueError:
        msg = f"expected a whole number, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 0:
        msg = f"must be 0 (all) or more, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def print_summary(summary: RunSummary) -> None:
    """Print warnings, then the closing line with the figures."""
    for warning in summary.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(summary.describe())


def run_plan(plan: Plan) -> Any:
    """Print the plan's notes, then run it with Ctrl-C handling and a progress bar per phase."""
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    bars = phase_bars() if plan.phase is None else progress_bar(plan.phase)
    with cancel_on_ctrl_c() as token, bars as bar:
        return plan.run(progress=bar, cancel=token)


def add_folder_output_flags(parser: argparse.ArgumentParser) -> None:
    """--overwrite and --no-resume, for every command that writes a folder of frames."""
    parser.add_argument("--overwrite", action="store_true", help="allow replacing same-named files in --out")
    parser.add_argument(
        "--no-resume", action="store_true", help="start over even if an identical run was interrupted or is done"
    )


def add_access_flags(parser: argparse.ArgumentParser, *, what: str, auth: bool = True) -> None:
    """--auth, --auth-file, --allowed-root and --allowed-host, for the servers (ui, api)."""
    if auth:
        parser.add_argument(
            "--auth", action="append", default=[], metavar="USER:PASS", help="require this login (repeatable)"
        )
    parser.add_argument("--auth-file", action="append", default=[], metavar="FILE", help="logins, one USER:PASS a line")
    parser.add_argument(
        "--allowed-root",
        action="append",
        default=[],
        metavar="DIR",
        help=f"folders the {what} may read and write (repeatable; default with --listen: the current folder)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another host name the server answers to (a tunnel or reverse proxy); others are refused",
    )


def server_access(args: argparse.Namespace, host: str, *, what: str):
    """The access setup (logins, folders, hosts) of a server command from its flags."""
    from abysz_lab.access import ServerAccess

    return ServerAccess.from_flags(
        host,
        auth=args.auth,
        auth_files=args.auth_file,
        allowed_roots=args.allowed_root,
        hosts=args.allowed_host,
        what=what,
    )


# --- dfi ----------------------------------------------------------------------------------


def _add_dfi(sub: argparse._SubParsersAction) -> None:
    from abysz_lab.dfi import DFIParams

    p = sub.add_parser(
        "dfi",
        help="stabilise generated frames against the original frames (DFI)",
        description="Hold the previous output wherever the original video is still. "
        "Frames are paired by natural order; outputs keep the generated frames' names and formats.",
    )
    p.add_argument(
        "--source", required=True, help="folder of the ORIGINAL video's frames, or the video (extracted to OUT_work)"
    )
    p.add_argument("--generated", required=True, help="folder of the img2img output frames, or a video of them")
    p.add_argument(
        "--out", help="output folder (created; must not be an input folder); not needed with --preview-masks"
    )
    group = p.add_argument_group("DFI parameters")
    prm.add_arguments(group, DFIParams)
    p.add_argument("--frames-limit", type=non_negative, default=0, help="stop after this many frames (0 = all)")
    p.add_argument(
        "--preview-masks",
        metavar="DIR",
        help="write mask previews (mask and mask-over-source) for a few frames to DIR and exit",
    )
    p.add_argument(
        "--preview-frames",
        default="",
        help="comma-separated frame numbers for --preview-masks, counted from 1 like extracted frames "
        "(frame_00001 is 1; default: spread over the clip)",
    )
    add_folder_output_flags(p)
    p.set_defaults(handler=_run_dfi)


@contextmanager
def phase_bars() -> Iterator[Callable]:
    """One progress bar per pipeline phase ("Extract source video", "DFI", ...), each closed when the next starts."""
    from contextlib import ExitStack

    current: dict = {"phase": None, "update": None, "stack": None}

    def update(report) -> None:
        if report.phase != current["phase"]:
            if current["stack"] is not None:
                current["stack"].close()
            stack = ExitStack()
            current.update(phase=report.phase, stack=stack, update=stack.enter_context(progress_bar(report.title)))
        current["update"](report.progress)

    try:
        yield update
    finally:
        if current["stack"] is not None:
            current["stack"].close()


def _run_dfi(args: argparse.Namespace) -> int:
    from abysz_lab import pipeline
    from abysz_lab.dfi import DFIParams

    if args.preview_masks:  # a look at the masks, not a run: it has no job kind (the API has /preview-masks)
        params = prm.from_namespace(DFIParams, args)
        with cancel_on_ctrl_c() as token, phase_bars() as bars:
            prepared = pipeline.prepare_inputs(
                args.source,
                args.generated,
                pipeline.work_folder(Path(args.out or args.preview_masks)),
                progress=bars,
                cancel=token,
            )
        args.source, args.generated = (str(prepared.folders[r]) for r in pipeline.ROLES)
        return _write_mask_previews(args, params)
    result = run_plan(commands.plan_dfi(args))
    video_warnings = {role: run.warnings for role, run in result.extractions.items() if run is not None}
    shown = {w for found in video_warnings.values() for w in found}
    for note in result.notes:
        if note not in shown:
            print(note)
    for role, found in video_warnings.items():
        for warning in found:  # e.g. a damaged video
            print(f"warning: {role} video: {warning}", file=sys.stderr)
    print_summary(result.dfi)
    return 0


def _write_mask_previews(args: argparse.Namespace, params) -> int:
    from abysz_lab.dfi import preview_masks
    from abysz_lab.errors import InputError
    from abysz_lab.frames import check_output_folder, write_frame

    try:
        numbers = [int(x) for x in args.preview_frames.split(",") if x.strip()]
    except ValueError as exc:
        msg = f"--preview-frames must be comma-separated frame numbers, got {args.preview_frames!r}."
        raise InputError(msg) from exc
    folder = check_output_folder(args.preview_masks, args.source, args.generated)
    indices = [n - 1 for n in numbers]  # users count frames from 1, as the extracted files are numbered
    for item in preview_masks(args.source, args.generated, params, indices=indices or None):
        stem = Path(item.name).stem
        write_frame(folder / f"mask_{item.number:04d}_{stem}.png", item.mask)
        write_frame(folder / f"overlay_{item.number:04d}_{stem}.png", item.overlay)
        print(f"frame {item.number} ({item.name}): {item.held_pct:.1f}% held")
    print(f"Mask previews written to {folder} (white = held from the previous output).")
    return 0


# --- stabilise: the whole trip ------------------------------------------------------------------


def _add_stabilise(sub: argparse._SubParsersAction) -> None:
    from abysz_lab.dfi import DFIParams
    from abysz_lab.video import AssembleParams

    p = sub.add_parser(
        "stabilise",
        aliases=["stabilize"],
        help="original + img2img (videos or folders) -> finished MP4 with the original's rate and sound",
        description="The whole job in one command: extract videos (once, into OUT_work, re-used while unchanged), "
        "DFI, an optional deflicker preset, the MP4 with the original's frame rate and sound, and optionally a "
        "comparison video and a flicker report. Interrupted runs resume.",
    )
    p.add_argument("source", help="the ORIGINAL video, or the folder of its frames")
    p.add_argument("generated", help="the img2img result: a video, or the folder of its frames")
    p.add_argument("--out", required=True, help="the finished video, .mp4 (or .gif); frames go to OUT_work/")
    prm.add_arguments(p.add_argument_group("DFI parameters"), DFIParams)
    p.add_argument("--preset", help="also run this deflicker preset over the DFI frames (see deflicker --list-presets)")
    p.add_argument("--presets-dir", help="folder of your saved presets (default: ~/.config/abysz_lab/presets)")
    p.add_argument("--compare", action="store_true", help="also write OUT_compare.mp4: original | generated | result")
    p.add_argument(
        "--report",
        nargs="?",
        const="",
        metavar="DIR",
        help="also measure flicker and write the report (JSON, CSV, plot) to DIR (default: OUT_report)",
    )
    encode = p.add_argument_group("video options")
    quality = next(s for s in prm.specs(AssembleParams) if s.name == "quality")
    encode.add_argument(
        "--quality",
        type=int,
        default=None,
        help=f"{quality.help} [{quality.minimum:g}..{quality.maximum:g}, default {quality.default}]",
    )
    encode.add_argument("--no-audio", action="store_true", help="leave the sound of the original out")
    p.add_argument("--frames-limit", type=non_negative, default=0, help="stop after this many frames (0 = all)")
    add_folder_output_flags(p)
    p.set_defaults(handler=_run_stabilise)


def _run_stabilise(args: argparse.Namespace) -> int:
    result = run_plan(commands.plan_stabilise(args))
    print_result(result)
    return 130 if result.cancelled else 0


def print_result(result) -> None:
    """Print the notes, warnings and problems of a pipeline run, then every file it wrote."""
    for note in result.notes:
        print(note)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in result.problems:
        print(f"error: {problem}", file=sys.stderr)
    if result.cancelled:
        print(f"cancelled: {result.cancelled}", file=sys.stderr)
    print(result.dfi.describe())
    if result.deflicker is not None:
        print(result.deflicker.describe())
    if result.analysis is not None:
        print(result.analysis.summary.text)
    print("Files written:")
    for what, path in result.files():
        print(f"  {path}  ({what})")


# --- deflicker (playground presets) ----------------------------------------------------------


def _add_deflicker(sub: argparse._SubParsersAction) -> None:
    from abysz_lab.playground import PlaygroundParams

    p = sub.add_parser(
        "deflicker",
        help="apply a deflicker preset (ImageMagick or numpy) to a folder of frames",
        description="Run a playground preset over a folder of frames; outputs keep the input names and formats. "
        "Leave out --strength/--window to use the preset's recommended values.",
    )
    p.add_argument("--list-presets", action="store_true", help="list the presets with what they do, and exit")
    p.add_argument("--in", dest="input", help="folder of frames to deflicker")
    p.add_argument("--out", help="output folder (created; must not be the input folder)")
    group = p.add_argument_group("preset parameters")
    prm.add_arguments(group, PlaygroundParams, defaults=_preset_defaults())
    p.add_argument("--presets-dir", help="folder of your saved presets (default: ~/.config/abysz_lab/presets)")
    add_folder_output_flags(p)
    p.set_defaults(handler=_run_deflicker)


def _by_value(values: dict[str, float]) -> str:
    """``1; 0.5 for blend, overlay``: the most common value, then the presets that differ."""
    if not values:
        return "none of the built-in presets uses it"
    common = max(set(values.values()), key=list(values.values()).count)
    groups: dict[float, list[str]] = {}
    for name, value in values.items():
        if value != common:
            groups.setdefault(value, []).append(name)
    rest = "; ".join(f"{prm.format_value(v)} for {', '.join(names)}" for v, names in groups.items())
    return f"{prm.format_value(common)}; {rest}" if rest else prm.format_value(common)


def _preset_defaults() -> dict[str, str]:
    """What --help says instead of one default where the preset decides (from the built-in presets)."""
    from abysz_lab.playground import BUILTIN_PRESETS

    strength = {p.name: p.default_strength for p in BUILTIN_PRESETS if p.uses_strength}
    window = {p.name: p.default_window for p in BUILTIN_PRESETS if p.uses_window}
    return {
        "preset": f"required; built-in: {', '.join(p.name for p in BUILTIN_PRESETS)}, or one you saved",
        "strength": f"default: the preset's own, {_by_value(strength)}",
        "window": f"default: the preset's own, {_by_value(window)}",
    }


def _run_deflicker(args: argparse.Namespace) -> int:
    from abysz_lab.playground import list_presets, load_custom_presets

    if args.list_presets:
        for info in list_presets(args.presets_dir):
            origin = "" if info.builtin else " [yours]"
            print(f"{info.name}{origin}: {info.title}")
            print(f"    {info.description}")
            print(f"    steps: {info.chain}")
            if info.uses_strength:
                print(f"    strength (default {info.default_strength:g}): {info.strength_help}")
            if info.uses_window:
                print(f"    window (default {info.default_window}): frames centred on each frame")
        for problem in load_custom_presets(args.presets_dir).problems:
            print(f"warning: {problem}", file=sys.stderr)
        return 0
    print_summary(run_plan(commands.plan_deflicker(args)))
    return 0


# --- demo -----------------------------------------------------------------------------------


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="make a small demo clip and run DFI on it")
    p.add_argument("--dir", default=str(DEFAULT_DEMO_DIR), help="where to put the demo (default: ./abysz_demo)")
    p.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from abysz_lab.demo import make_demo_clip
    from abysz_lab.dfi import run_dfi

    clip = make_demo_clip(args.dir)
    print(f"Demo clip: {clip.frames} frames in {clip.source} (original) and {clip.generated} (flickering).")
    with cancel_on_ctrl_c() as token, progress_bar("DFI") as bar:
        summary = run_dfi(clip.source, clip.generated, clip.root / "stabilised", progress=bar, cancel=token)
    print_summary(summary)
    print(f"Result: {summary.output}")
    return 0


# --- video: extract, assemble, compare, fuse ------------------------------------------------


def _add_extract(sub: argparse._SubParsersAction) -> None:
    from abysz_lab.video import ExtractParams

    p = sub.add_parser(
        "extract",
        help="video file -> numbered frames (plus a timing sidecar for assemble)",
        description="Extract frames (frame_00001.png, ...) sampled on time. A sidecar in the output folder "
        "records the rate, the span and the source, so 'assemble' restores timing and sound.",
    )
    p.add_argument("video", help="video file (mp4, mov, webm, mkv, avi, gif)")
    p.add_argument("--out", required=True, help="output folder (created)")
    prm.add_arguments(p.add_argument_group("extract options"), ExtractParams)
    p.add_argument("--overwrite", action="store_true", help="allow writing into a folder that holds other images")
    p.set_defaults(handler=_run_extract)


def _run_extract(args: argparse.Namespace) -> int:
    print_summary(run_plan(commands.plan_extract(args)))
    return 0


def _add_assemble(sub: argparse._SubParsersAction) -> None:
    from abysz_lab.video import AssembleParams

    p = sub.add_parser(
        "assemble",
        help="frames -> MP4 (H.264, plays in browsers) or looping GIF",
        description="Encode a folder of frames. The output's extension picks the format (.mp4 or .gif). "
        "Rate and sound come from the extraction sidecar (--timing) unless given.",
    )
    p.add_argument("frames", help="folder of frames (natural order)")
    p.add_argument("--out", required=True, help="output file, .mp4 or .gif")
    p.add_argument(
        "--timing", help="folder the original video was extracted to (its sidecar gives fps and sound source)"
    )
    p.add_argument("--audio-from", help="take the sound from this video instead of the sidecar's source")
    prm.add_arguments(p.add_argument_group("encoding options"), AssembleParams)
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.set_defaults(handler=_run_assemble)


def _run_assemble(args: argparse.Namespace) -> int:
    print_summary(run_plan(commands.plan_assemble(args)))
    return 0


def _add_compare(sub: argparse._SubParsersAction) -> None:
    from abysz_lab.video import CompareParams

    p = sub.add_parser(
        "compare",
        help="one MP4 showing frame folders side by side (original | generated | stabilised) or split",
        description="Frames are paired by natural order and fitted to the last folder's size.",
    )
    p.add_argument("folders", nargs="+", help="1-4 frame folders, e.g. ORIGINAL GENERATED STABILISED")
    p.add_argument("--out", required=True, help="output .mp4 file")
    p.add_argument("--labels", default="", help="comma-separated captions, one per folder (default: the folder names)")
    prm.add_arguments(p.add_argument_group("compare options"), CompareParams)
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.set_defaults(handler=_run_compare)


def _run_compare(args: argparse.Namespace) -> int:
    print_summary(run_plan(commands.plan_compare(args)))
    return 0


def _add_fuse(sub: argparse._SubParsersAction) -> None:
    from abysz_lab.fuse import FuseParams

    p = sub.add_parser(
        "fuse",
        help="overlay-blend a style frame sequence (lights, colours) onto frames",
        description="Style fuse: each style frame is fitted to the frame's size and overlay-blended.",
    )
    p.add_argument("frames", help="folder of frames to tint")
    p.add_argument("--style", required=True, help="folder of style frames")
    p.add_argument("--out", required=True, help="output folder (created; must not be an input folder)")
    prm.add_arguments(p.add_argument_group("fuse options"), FuseParams)
    add_folder_output_flags(p)
    p.set_defaults(handler=_run_fuse)


def _run_fuse(args: argparse.Namespace) -> int:
    print_summary(run_plan(commands.plan_fuse(args)))
    return 0


# --- analyze --------------------------------------------------------------------------------

DEFAULT_REPORT_DIR = Path("abysz_analysis")


def _add_analyze(sub: argparse._SubParsersAction) -> None:
    from abysz_lab.analysis import AnalysisParams

    p = sub.add_parser(
        "analyze",
        help="measure flicker, fidelity and ghosting of generated (and stabilised) frames",
        description="Measure how much the generated frames flicker where the original video is still or moves "
        "smoothly, and, with --output, how much of that DFI removed, how much of the render survived (PSNR, "
        "SSIM) and where it ghosts. Prints a table; writes JSON, CSV, a plot and a heat map to --report.",
    )
    p.add_argument("--source", required=True, help="folder of the ORIGINAL video's frames")
    p.add_argument("--generated", required=True, help="folder of the img2img output frames")
    p.add_argument("--output", help="folder of the stabilised frames (e.g. a DFI result) to compare")
    p.add_argument(
        "--report", default=str(DEFAULT_REPORT_DIR), help="folder for the report files (default: ./abysz_analysis)"
    )
    p.add_argument(
        "--heatmap-frame",
        type=int,
        help="frame number for the heat map, counted from 1 like extracted frames (frame_00005 is 5; "
        "2 or more: frame 1 has no previous frame; default: the one with the most flicker)",
    )
    p.add_argument("--frames-limit", type=non_negative, default=0, help="analyse only this many frames (0 = all)")
    prm.add_arguments(p.add_argument_group("analysis parameters"), AnalysisParams)
    p.set_defaults(handler=_run_analyze)


def _run_analyze(args: argparse.Namespace) -> int:
    done = run_plan(commands.plan_analyze(args))
    result, files = done.result, done.files
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(result.table())
    print(result.summary.text)
    heat = f", heat map {files.heatmap.name}" if files.heatmap else ""
    print(
        f"Analysed {result.summary.frames} frames in {result.seconds:.1f} s ({result.fps:.1f} frames/s). "
        f"Report in {files.json.parent}: {files.json.name}, {files.csv.name}, {files.plot.name}{heat}."
    )
    return 0


# --- ui -------------------------------------------------------------------------------------


def _add_ui(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ui",
        help="serve the Abysz LAB web UI (the A1111 tab, standalone; needs gradio)",
        description="Serve the same UI as the A1111/Forge tab in your browser. Only this machine can reach it "
        "unless --listen is given.",
    )
    p.add_argument("--port", type=int, default=None, help="port to serve on (default: gradio's, 7860 or the next free)")
    p.add_argument(
        "--listen",
        action="store_true",
        help="listen on every network interface, not only 127.0.0.1 (others can then reach it: use --auth)",
    )
    add_access_flags(p, what="UI")
    p.add_argument(
        "--api", action="store_true", help="also serve the HTTP API under /abysz-lab/v1 (see the api command)"
    )
    p.add_argument("--demo", action="store_true", help="make the demo clip and pre-fill the folders with it")
    p.add_argument(
        "--demo-dir", default=str(DEFAULT_DEMO_DIR), help="where --demo puts the clip (default: ./abysz_demo)"
    )
    p.add_argument("--demo-frames", type=int, default=36, help="length of the --demo clip in frames (default: 36)")
    p.set_defaults(handler=_run_ui)


def _run_ui(args: argparse.Namespace) -> int:
    import importlib.util

    from abysz_lab.errors import InputError, MissingDependencyError

    if importlib.util.find_spec("gradio") is None:
        msg = "The web UI needs gradio: pip install 'gradio>=3.41.2' (or use the A1111/Forge tab)."
        raise MissingDependencyError(msg)
    from abysz_lab.ui import UISettings, launch_standalone

    settings = UISettings()
    if args.demo:
        from abysz_lab.demo import make_demo_clip

        if args.demo_frames < 2:
            msg = f"--demo-frames must be at least 2, got {args.demo_frames}."
            raise InputError(msg)
        clip = make_demo_clip(args.demo_dir, frames=args.demo_frames)
        print(f"Demo clip: {clip.frames} frames in {clip.source} (original) and {clip.generated} (flickering).")
        settings = UISettings(
            source=str(clip.source.resolve()),
            generated=str(clip.generated.resolve()),
            output=str((clip.root / "stabilised").resolve()),
        )
    host = "0.0.0.0" if args.listen else "127.0.0.1"  # every interface only when asked
    launch_standalone(
        settings,
        host=host,
        port=args.port,
        api=args.api,
        access_rules=server_access(args, host, what="UI"),
    )
    return 0


# --- api ------------------------------------------------------------------------------------


def _add_api(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "api",
        help="serve the HTTP API alone (no gradio): jobs for every command, under /abysz-lab/v1",
        description="Serve the HTTP API with uvicorn. Job fields are this CLI's options, dashes as underscores. "
        "Only this machine can reach it unless --listen is given.",
    )
    p.add_argument("--port", type=int, default=7870, help="port to serve on (default: 7870)")
    p.add_argument("--listen", action="store_true", help="listen on every network interface, not only 127.0.0.1")
    p.add_argument("--auth", action="append", default=[], metavar="USER:PASS", help="require HTTP Basic credentials")
    add_access_flags(p, what="API", auth=False)
    p.set_defaults(handler=_run_api)


def _run_api(args: argparse.Namespace) -> int:
    from abysz_lab import api
    from abysz_lab.access import check_port, set_policy

    host = "0.0.0.0" if args.listen else "127.0.0.1"  # noqa: S104 - every interface only when asked
    check_port(args.port)
    rules = server_access(args, host, what="API")
    set_policy(rules.policy)
    for line in rules.warnings():
        print(line, file=sys.stderr)
    api.serve(host=host, port=args.port, credentials=rules.credentials, extra_hosts=rules.rules.extra_hosts)
    return 0


# --- entry point ----------------------------------------------------------------------------

COMMANDS = [
    _add_ui,
    _add_stabilise,
    _add_dfi,
    _add_deflicker,
    _add_extract,
    _add_assemble,
    _add_compare,
    _add_fuse,
    _add_analyze,
    _add_demo,
    _add_api,
]


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser with every command."""
    parser = argparse.ArgumentParser(
        prog="python -m abysz_lab", description="Abysz LAB: temporal coherence for AI video."
    )
    parser.add_argument("--version", action="version", version=f"abysz-lab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    # Every command reads frames: the same limit everywhere (a parser with aliases is listed once per name).
    for command in {id(p): p for p in sub.choices.values()}.values():
        prm.add_arguments(command.add_argument_group("frame limits"), FrameLimits)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        set_frame_limits(prm.from_namespace(FrameLimits, args))
        return args.handler(args)
    except Cancelled as exc:
        print(f"cancelled: {exc}", file=sys.stderr)
        return exc.exit_code
    except AbyszError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("aborted.", file=sys.stderr)
        return 130
    except MemoryError:
        if args.debug:
            raise
        print(
            "error: not enough memory: use smaller frames, lower --max-megapixels, or close other programs.",
            file=sys.stderr,
        )
        return 2
