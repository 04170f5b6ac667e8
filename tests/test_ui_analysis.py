"""What the Analyze tab's buttons call, on a real DFI run of a small demo clip: summary, table, plot, heat map,
report files, cancel, a second click, bad input."""

from __future__ import annotations

import json
import threading

import pytest
from ui_support import job_on_the_shared_queue, needs_gradio, small_clip, wait_for_desc

pytestmark = [pytest.mark.ui, needs_gradio]

FRAMES = 10


def analysis_values(source="", generated="", output="", **given) -> dict:
    """What the Analyze tab's controls hold by default, with folders filled in."""
    from abysz_lab import params as prm
    from abysz_lab.analysis import AnalysisParams

    values = {s.name: float(s.default) for s in prm.specs(AnalysisParams)}
    values.update(
        source=str(source),
        generated=str(generated),
        output=str(output),
        frames_limit=0,
        report_folder="",
        heatmap_frame=2,
    )
    values.update({k: str(v) if hasattr(v, "is_dir") else v for k, v in given.items()})
    return values


def _is_update(value) -> bool:
    """A gr.update() that leaves the component as it is (3.41 says 'generic_update', 4.x 'update')."""
    return isinstance(value, dict) and str(value.get("__type__", "")).endswith("update") and len(value) == 1


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A demo clip and its DFI output: (source, generated, output)."""
    from abysz_lab.dfi import DFIParams, run_dfi

    root = tmp_path_factory.mktemp("analysis")
    clip = small_clip(root / "clip", frames=FRAMES)
    run_dfi(clip.source, clip.generated, root / "dfi", DFIParams())
    return clip.source, clip.generated, root / "dfi"


@pytest.fixture
def handlers():
    from abysz_lab.ui import UISettings
    from abysz_lab.ui.analysis_tab import AnalysisHandlers

    return AnalysisHandlers(UISettings())


def test_analysis_of_a_dfi_run_shows_the_one_line_summary_and_less_flicker(handlers, run):
    from abysz_lab.analysis import analyze_folders

    status, *_ = handlers.run(analysis_values(*run))
    expected = analyze_folders(*run).summary
    assert expected.flicker_change_pct < 0  # DFI removed flicker
    assert expected.text in status
    assert "abysz-msg-ok" in status
    assert f"{FRAMES} frames in" in status


def test_analysis_table_has_a_row_per_frame_with_frame_zero_undefined(handlers, run):
    from abysz_lab.ui.analysis_tab import TABLE_HEADERS

    _, rows, *_ = handlers.run(analysis_values(*run))
    assert len(rows) == FRAMES
    assert all(len(r) == len(TABLE_HEADERS) for r in rows)
    flicker_out = TABLE_HEADERS.index("flicker output")
    assert rows[0][flicker_out] == "-"
    assert float(rows[5][flicker_out]) >= 0
    assert rows[3][1].endswith(".png")


def test_analysis_table_numbers_frames_from_1_like_the_files(handlers, run):
    _, rows, *_ = handlers.run(analysis_values(*run))
    names = sorted(p.name for p in run[1].iterdir())
    assert [(r[0], r[1]) for r in rows] == [(str(i + 1), n) for i, n in enumerate(names)]


def test_analysis_shows_the_plot_and_the_worst_frame_heat_map(handlers, run):
    _, _, plot, heat, slider, caption = handlers.run(analysis_values(*run))
    assert plot.ndim == 3
    assert plot.shape[1] >= 800  # the matplotlib figure, not a thumbnail
    assert plot.std() > 10  # curves and text, not a blank canvas
    assert heat.shape == (96, 128, 3)
    # The slider counts from 1 like the files: frame 2 (the first with a previous frame) to the last.
    assert slider["maximum"] == FRAMES
    assert 2 <= slider["value"] <= FRAMES
    names = sorted(p.name for p in run[1].iterdir())
    assert f"frame {slider['value']} ({names[slider['value'] - 1]})" in caption


def test_analysis_without_an_output_folder_measures_the_generated_frames_only(handlers, run):
    source, generated, _ = run
    status, rows, plot, *_ = handlers.run(analysis_values(source, generated))
    assert "generated frames only" in status
    assert {r[3] for r in rows} == {"-"}  # no output flicker anywhere
    assert plot.ndim == 3


def test_analysis_writes_the_report_only_when_a_folder_is_given(handlers, run, tmp_path):
    report = tmp_path / "report"
    status, *_ = handlers.run(analysis_values(*run, report_folder=report))
    assert {p.name for p in report.iterdir()} >= {"analysis.json", "analysis.csv", "analysis.png"}
    assert json.loads((report / "analysis.json").read_text())["summary"]["frames"] == FRAMES
    assert "Report written" in status


def test_analysis_refuses_a_report_folder_inside_an_input_and_writes_nothing(handlers, run):
    _, generated, _ = run
    before = sorted(generated.iterdir())
    status, *others = handlers.run(analysis_values(*run, report_folder=generated))
    assert "abysz-msg-error" in status
    assert all(_is_update(o) for o in others)
    assert sorted(generated.iterdir()) == before


def test_analysis_frames_limit_shortens_the_table(handlers, run):
    _, rows, *_ = handlers.run(analysis_values(*run, frames_limit=4.0))
    assert len(rows) == 4


def test_analysis_with_an_empty_generated_box_asks_for_it(handlers, run):
    status, *others = handlers.run(analysis_values(run[0], ""))
    assert "Enter the generated frames folder" in status
    assert all(_is_update(o) for o in others)


def test_analysis_of_a_missing_folder_says_which(handlers, run, tmp_path):
    status, *_ = handlers.run(analysis_values(run[0], tmp_path / "nowhere"))
    assert "abysz-msg-error" in status
    assert "nowhere" in status


def test_heat_map_for_the_slider_frame_is_that_frame(handlers, run):
    image, caption = handlers.heatmap(analysis_values(*run, heatmap_frame=4.0))
    assert image.shape == (96, 128, 3)
    names = sorted(p.name for p in run[1].iterdir())
    assert f"frame 4 ({names[3]})" in caption  # frame 4 is the fourth file


def test_heat_maps_of_different_frames_differ(handlers, run):
    a, _ = handlers.heatmap(analysis_values(*run, heatmap_frame=2.0))
    b, _ = handlers.heatmap(analysis_values(*run, heatmap_frame=7.0))
    assert (a != b).any()  # the ball moved


@pytest.mark.parametrize("frame", [1.0, float(FRAMES + 1)])
def test_heat_map_out_of_range_says_which_frames_exist(handlers, run, frame):
    image, caption = handlers.heatmap(analysis_values(*run, heatmap_frame=frame))
    assert _is_update(image)
    assert "abysz-msg-error" in caption


def test_cancel_mid_analysis_says_how_far_it_got(handlers, run):
    said = []

    def progress(done_total, **_):
        if done_total[0] == 3:
            said.append(handlers.cancel())

    status, *others = handlers.run(analysis_values(*run), progress)
    assert "Cancelling" in said[0]
    assert "abysz-msg-warning" in status
    assert "Cancelled after" in status
    assert all(_is_update(o) for o in others)
    assert not handlers.runs.busy


def test_a_second_analysis_waits_behind_the_first_then_runs(handlers, run):
    reached, release = threading.Event(), threading.Event()
    first_result, second_result, second_descs = [], [], []

    def slow_progress(done_total, **_):
        if done_total[0] == 2:
            reached.set()
            release.wait(timeout=30)

    first = threading.Thread(target=lambda: first_result.append(handlers.run(analysis_values(*run), slow_progress)))
    second = threading.Thread(
        target=lambda: second_result.append(
            handlers.run(analysis_values(*run), lambda done_total, desc="", **_: second_descs.append(desc))
        )
    )
    first.start()
    try:
        assert reached.wait(timeout=30)
        second.start()
        wait_for_desc(second_descs, "Queued behind 1 job")
    finally:
        release.set()
        first.join(timeout=60)
        second.join(timeout=60)
    assert "abysz-msg-ok" in first_result[0][0]
    assert "abysz-msg-ok" in second_result[0][0]
    assert not handlers.runs.busy


def test_an_analysis_of_a_folder_a_job_is_writing_waits_for_it(handlers, run, tmp_path):
    """The API's (or another tab's) DFI into the output folder finishes first: no half-written frames measured."""
    descs, result = [], []
    with job_on_the_shared_queue("dfi", writes=[run[2]]) as api_job:
        waiting = threading.Thread(
            target=lambda: result.append(
                handlers.run(analysis_values(*run), lambda done_total, desc="", **_: descs.append(desc))
            )
        )
        waiting.start()
        wait_for_desc(descs, "Queued behind 1 job")
        assert api_job.state == "running" and result == []
    waiting.join(timeout=60)
    assert "abysz-msg-ok" in result[0][0]


def test_a_report_into_a_folder_a_job_writes_is_refused_naming_that_job(handlers, run, tmp_path):
    report = tmp_path / "report"
    with job_on_the_shared_queue("dfi", writes=[tmp_path]) as api_job:
        status, *others = handlers.run(analysis_values(*run, report_folder=str(report)))
    assert "abysz-msg-error" in status
    assert f"job {api_job.id} (dfi into" in status
    assert all(_is_update(o) for o in others)
    assert not report.exists()


def test_cancel_with_nothing_running_says_so(handlers):
    assert "No analysis is going" in handlers.cancel()


def test_the_analyze_tab_has_a_control_for_every_analysis_parameter():
    from abysz_lab import params as prm
    from abysz_lab.analysis import AnalysisParams
    from abysz_lab.ui import build_ui, compat

    ids = {b.elem_id for b in compat.iter_components(build_ui()) if getattr(b, "elem_id", None)}
    assert {f"abysz_an_{s.name}" for s in prm.specs(AnalysisParams)} <= ids
