"""The quality benchmark's smoke run (6 frames at 96x96): every scenario and setting is scored."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_quality.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_quality", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def table_rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")]


@pytest.mark.parametrize("pictures", ["--synthetic", "photographs"])
def test_smoke_run_scores_every_scenario_and_setting(pictures, capsys):
    if pictures == "photographs":
        pytest.importorskip("skimage.data")
    bench = load_bench()
    argv = ["--smoke", pictures] if pictures.startswith("--") else ["--smoke"]
    assert bench.main(argv) == 0
    rows = table_rows(capsys.readouterr().out)
    scored = [r for r in rows if r[0] not in ("clip", "scenario")]
    assert len(scored) == len(bench.SETTINGS) * (len(bench.SCENARIOS) + 1)  # + the averages
    assert {r[0] for r in scored} == {"all scenarios"} | {
        "locked camera, moving subject",
        "slow pan",
        "slow zoom",
        "lighting change",
        "hard scene cut",
    }
    dfi_defaults = [r for r in scored if r[1] == "DFI defaults"]
    # Column 7 is the flicker change: DFI must remove flicker in every scenario, even in 6 frames.
    assert all(float(r[7]) < 0 for r in dfi_defaults)
