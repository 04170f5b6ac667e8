"""The pipeline: stabilise a video (or frames) into a finished MP4 in one call, from Python and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tree_digest
from media_support import DEMO_FPS, demo_videos, video_facts

from abysz_lab import cli, pipeline
from abysz_lab.demo import make_demo_clip
from abysz_lab.dfi import DFIParams, run_dfi
from abysz_lab.errors import Cancelled, InputError
from abysz_lab.frames import read_frame
from abysz_lab.jobs import CancelToken

FRAMES = 12


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return demo_videos(tmp_path_factory.mktemp("videos"), frames=FRAMES)


def test_stabilise_videos_gives_an_mp4_with_the_originals_rate_duration_and_sound(videos, tmp_path):
    original, generated = videos
    result = pipeline.stabilise(original, generated, tmp_path / "result.mp4")
    facts, source = video_facts(tmp_path / "result.mp4"), video_facts(original)
    assert facts["rate"] == pytest.approx(DEMO_FPS)
    assert facts["frames"] == FRAMES
    assert abs(facts["duration"] - source["duration"]) <= 1 / DEMO_FPS
    assert facts["audio"] == 1
    assert result.video.output == tmp_path / "result.mp4"
    assert result.dfi.output == tmp_path / "result_work" / "dfi"


def test_stabilise_equals_run_dfi_on_the_same_frames(videos, tmp_path):
    """The pipeline adds nothing to DFI: its frames are run_dfi's on the extracted frames, byte for byte."""
    result = pipeline.stabilise(*videos, tmp_path / "result.mp4", params=DFIParams(tolerance=6))
    direct = run_dfi(result.folders["source"], result.folders["generated"], tmp_path / "direct", DFIParams(tolerance=6))
    for path in direct.outputs:
        assert (result.dfi.output / path.name).read_bytes() == path.read_bytes()


def test_a_second_call_reuses_the_extraction_and_resumes_everything(videos, tmp_path):
    pipeline.stabilise(*videos, tmp_path / "result.mp4")
    extracted = tree_digest(tmp_path / "result_work" / "source")
    again = pipeline.stabilise(*videos, tmp_path / "result.mp4")
    assert again.extractions == {"source": None, "generated": None}
    assert again.dfi.resumed_from == FRAMES
    assert tree_digest(tmp_path / "result_work" / "source") == extracted


def _extracted(work, role="source") -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((work / role).glob("*.png"))}


def test_a_frames_limit_extracts_only_the_frames_the_run_uses(videos, tmp_path, capsys):
    """A trial on the first frames of a long clip must not decode all of it first (12 files each without the limit)."""
    code = cli.main(["stabilise", *map(str, videos), "--out", str(tmp_path / "r.mp4"), "--frames-limit", "5"])
    out = capsys.readouterr().out
    assert code == 0
    for role in pipeline.ROLES:
        assert len(_extracted(tmp_path / "r_work", role)) == 5, role
    assert "extracted 5 frames from original.mp4" in out
    assert video_facts(tmp_path / "r.mp4")["frames"] == 5


def test_a_limited_extraction_serves_shorter_runs_and_a_longer_run_extracts_the_rest(videos, tmp_path):
    work = tmp_path / "work"
    assert pipeline.prepare_inputs(*videos, work, frames_limit=6).extractions["source"].written == 6
    limited = _extracted(work)
    assert pipeline.prepare_inputs(*videos, work, frames_limit=3).extractions == {"source": None, "generated": None}
    longer = pipeline.prepare_inputs(*videos, work, frames_limit=9)
    assert longer.extractions["source"].written == 9  # re-used, 6 frames would be 3 short
    full = pipeline.prepare_inputs(*videos, work)
    assert full.extractions["source"].written == FRAMES
    # The limit only stops ffmpeg early: the first frames are those of the full extraction, byte for byte.
    assert {name: data for name, data in _extracted(work).items() if name in limited} == limited
    assert pipeline.prepare_inputs(*videos, work, frames_limit=4).extractions == {"source": None, "generated": None}


def test_a_limit_past_the_end_of_the_video_extracts_it_whole_once(videos, tmp_path):
    work = tmp_path / "work"
    assert pipeline.prepare_inputs(*videos, work, frames_limit=50).extractions["source"].written == FRAMES
    assert pipeline.prepare_inputs(*videos, work).extractions == {"source": None, "generated": None}


def test_progress_names_every_phase_in_order_with_its_step(videos, tmp_path):
    seen = []
    options = {"preset": "brightness-lock", "compare": True, "analyze": True}
    pipeline.stabilise(*videos, tmp_path / "r.mp4", **options, progress=seen.append)
    titles = list(dict.fromkeys(r.title for r in seen))
    assert titles == [
        "Extract source video (step 1 of 7)",
        "Extract generated video (step 2 of 7)",
        "DFI (step 3 of 7)",
        "Deflicker (step 4 of 7)",
        "Video (step 5 of 7)",
        "Comparison video (step 6 of 7)",
        "Analysis (step 7 of 7)",
    ]
    assert (tmp_path / "r_compare.mp4").is_file()


def test_frame_folders_without_a_sidecar_make_a_24_fps_video_and_say_so(tmp_path):
    clip = make_demo_clip(tmp_path / "clip", frames=6, width=64, height=48)
    result = pipeline.stabilise(clip.source, clip.generated, tmp_path / "out.mp4")
    assert video_facts(tmp_path / "out.mp4")["rate"] == pytest.approx(24)
    assert any("24 fps" in w for w in result.warnings)


def test_frame_folders_to_an_mp4_with_a_comparison_and_a_report(tmp_path):
    """The record of the video we wrote once took the name of the timing sidecar, and the comparison failed."""
    clip = make_demo_clip(tmp_path / "clip", frames=6, width=64, height=48)
    result = pipeline.stabilise(
        clip.source, clip.generated, tmp_path / "out.mp4", compare=True, report=tmp_path / "report"
    )
    assert result.problems == []
    assert result.comparison is not None and result.comparison.stat().st_size > 0
    assert video_facts(result.comparison)["frames"] == 6
    assert (tmp_path / "report" / "analysis.json").is_file()


def test_cancel_during_dfi_leaves_whole_frames_and_a_rerun_finishes(videos, tmp_path):
    token = CancelToken()

    def stop(report):
        if report.phase == "DFI" and report.progress.done >= 4:
            token.cancel()

    with pytest.raises(Cancelled):
        pipeline.stabilise(*videos, tmp_path / "r.mp4", progress=stop, cancel=token)
    written = sorted((tmp_path / "r_work" / "dfi").glob("*.png"))
    assert 4 <= len(written) < FRAMES
    assert all(read_frame(p).shape == (96, 128, 3) for p in written)
    assert not (tmp_path / "r.mp4").exists()
    result = pipeline.stabilise(*videos, tmp_path / "r.mp4")
    assert result.dfi.resumed_from >= 4 and result.video.written == FRAMES


def test_a_folder_named_like_the_work_folder_that_is_not_ours_is_refused(videos, tmp_path):
    (tmp_path / "r_work").mkdir()
    (tmp_path / "r_work" / "mine.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(InputError, match="was not made by Abysz LAB"):
        pipeline.stabilise(*videos, tmp_path / "r.mp4")
    assert (tmp_path / "r_work" / "mine.txt").read_text(encoding="utf-8") == "keep"


def test_a_result_that_is_not_a_video_file_is_refused(videos, tmp_path):
    with pytest.raises(InputError, match=r"\.mp4 or \.gif"):
        pipeline.stabilise(*videos, tmp_path / "result")


def test_a_result_inside_an_input_folder_is_refused_naming_the_result(tmp_path):
    clip = make_demo_clip(tmp_path / "clip", frames=4, width=64, height=48)
    before = tree_digest(clip.root)
    with pytest.raises(InputError, match=r"The result .*r\.mp4 is inside the input folder .*source"):
        pipeline.stabilise(clip.source, clip.generated, clip.source / "r.mp4")
    assert tree_digest(clip.root) == before


def test_a_result_that_is_not_a_video_says_what_to_use_on_the_command_line(videos, tmp_path, capsys):
    assert cli.main(["stabilise", str(videos[0]), str(videos[1]), "--out", str(tmp_path / "r.avi")]) == 2
    assert "use the dfi command" in capsys.readouterr().err


def test_a_users_file_at_the_result_path_is_not_overwritten(videos, tmp_path):
    (tmp_path / "r.mp4").write_bytes(b"mine")
    with pytest.raises(InputError, match="already exists"):
        pipeline.stabilise(*videos, tmp_path / "r.mp4")
    assert (tmp_path / "r.mp4").read_bytes() == b"mine"


def test_cli_stabilise_lists_every_file_written_and_matches_the_python_call(videos, tmp_path, capsys):
    code = cli.main(["stabilise", *map(str, videos), "--out", str(tmp_path / "cli.mp4"), "--compare", "--report"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Files written:" in out
    for name in ("cli.mp4", "cli_compare.mp4", "analysis.json", "cli_work"):
        assert name in out
    assert (tmp_path / "cli_report" / "analysis.json").is_file()
    pipeline.stabilise(*videos, tmp_path / "py.mp4")
    assert np.array_equal(video_facts(tmp_path / "cli.mp4")["pixels"], video_facts(tmp_path / "py.mp4")["pixels"])


def test_cli_dfi_on_videos_refuses_a_work_folder_that_is_not_ours(videos, tmp_path, capsys):
    (tmp_path / "out_work").mkdir()
    (tmp_path / "out_work" / "x.txt").write_text("x", encoding="utf-8")
    code = cli.main(["dfi", "--source", str(videos[0]), "--generated", str(videos[1]), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "was not made by Abysz LAB" in capsys.readouterr().err
