"""Demo videos for the pipeline and API tests: the demo clip encoded with real ffmpeg, the original with sound."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np

from abysz_lab.demo import make_demo_clip
from abysz_lab.video import ffmpeg_exe

DEMO_FPS = 12


def demo_videos(root: Path, frames: int = 12, fps: int = DEMO_FPS) -> tuple[Path, Path]:
    """The demo clip as (original.mp4 with a 440 Hz tone, img2img.mp4 without sound) at ``fps``."""
    clip = make_demo_clip(root / "clip", frames=frames, width=128, height=96)
    seconds = frames / fps
    videos = []
    for name, folder, sound in (("original.mp4", clip.source, True), ("img2img.mp4", clip.generated, False)):
        path = root / name
        args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
        args += ["-framerate", str(fps), "-i", str(folder / "frame_%05d.png")]
        if sound:
            args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
        args += ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", str(path)]
        subprocess.run(args, check=True, capture_output=True)
        videos.append(path)
    return videos[0], videos[1]


def video_facts(path: Path) -> dict:
    """Rate, duration, frame count and sound of a video, read with PyAV (an independent reader)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
        return {
            "rate": float(stream.average_rate),
            "frames": len(frames),
            "duration": float(container.duration / av.time_base) if container.duration else None,
            "audio": len(container.streams.audio),
            "pixels": np.stack(frames),
        }
