"""The quality benchmark's smoke run (6 frames at 96x96): every scenario and setting is scored."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_quality.py"
SCENARIO_NAMES = {
    "locked camera, moving subject",
    "subject crossing texture",
    "slow pan",
    "fast pan",
    "hand-held shake",
    "slow zoom",
    "camera roll",
    "pan + moving subject",
    "low-texture pan",
    "lighting change",
    "lighting change under pan",
    "hard scene cut",
    "cut under motion",
}


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_quality", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def table_rows(text: str) -> list[list[str]]:
    """The rows of the long tables (group, setting, scores...), not the side-by-side one."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")]
    return [r for r in rows if len(r) > 6]


def column(bench, label: str) -> int:
    return 2 + [lab for _, lab, _ in bench.COLUMNS].index(label)


@pytest.mark.parametrize("pictures", ["--synthetic", "photographs"])
def test_smoke_run_scores_every_scenario_and_setting(pictures, capsys):
    if pictures == "photographs":
        pytest.importorskip("skimage.data")
    bench = load_bench()
    argv = ["--smoke", pictures] if pictures.startswith("--") else ["--smoke"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    scored = [r for r in table_rows(out) if r[0] not in ("clip", "scenario")]
    settings = len(bench.SETTINGS) + 1  # + the clean clip
    assert len(scored) == settings * (len(bench.SCENARIOS) + 1)  # + the averages
    assert {r[0] for r in scored} == {"all scenarios"} | SCENARIO_NAMES
    by_key = {(r[0], r[1]): r for r in scored}
    removed = column(bench, "flicker removed %")
    # DFI holds the locked shot's still background: it must remove most of its flicker even in 6 frames.
    assert float(by_key[("locked camera, moving subject", "DFI defaults")][removed]) > 50
    assert float(by_key[("locked camera, moving subject", "clean (ideal)")][removed]) == 100
    # Classic DFI holds a slow light change back (each step is under its tolerance): the ramp column shows it.
    ramp = column(bench, "light ramp kept %")
    assert float(by_key[("lighting change", "clean (ideal)")][ramp]) == 100
    assert float(by_key[("lighting change", "DFI defaults")][ramp]) < 90
    assert by_key[("slow pan", "DFI defaults")][ramp] == "-"  # only lighting scenarios have a ramp
    post_cut = column(bench, "3 frames after cut vs generated dB")
    assert math.isfinite(float(by_key[("hard scene cut", "DFI defaults")][post_cut]))
    if "motion defaults" in bench.SETTINGS:
        assert sum(line.startswith(("PASS", "FAIL")) for line in out.splitlines()) >= 5 * len(
            bench.motion_settings(list(bench.SETTINGS))
        )


def test_filters_pick_scenarios_and_settings(capsys):
    bench = load_bench()
    assert bench.main(["--smoke", "--synthetic", "--scenario", "fast-pan,shake", "--settings", "tolerance 10"]) == 0
    scored = [r for r in table_rows(capsys.readouterr().out) if r[0] not in ("clip", "scenario")]
    assert {r[0] for r in scored} == {"all scenarios", "fast pan", "hand-held shake"}
    # The generated frames and classic DFI are always scored: the targets are read against them.
    assert {r[1] for r in scored} == {"clean (ideal)", "generated (no DFI)", "DFI defaults", "DFI tolerance 10"}


def test_filter_that_matches_nothing_says_what_there_is():
    bench = load_bench()
    with pytest.raises(SystemExit, match="choose from: locked, crossing"):
        bench.main(["--smoke", "--synthetic", "--scenario", "nonesuch"])
