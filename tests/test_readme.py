"""README.md stays true: the commands exist and the parameter table matches the dataclass."""

from __future__ import annotations

import re
from pathlib import Path

from abysz_lab import params as prm
from abysz_lab.dfi import DFIParams

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def test_readme_parameter_table_matches_the_dfi_dataclass():
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `--([a-z-]+)` \|.*$", README, re.M)}
    for spec in prm.specs(DFIParams):
        row = rows.get(spec.name.replace("_", "-"))
        assert row is not None, f"README lacks a row for --{spec.name}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        if spec.choices is not None:
            assert cells[2] == " / ".join(spec.choices), (spec.name, cells[2])
            assert cells[3] == spec.default, (spec.name, cells[3])
        elif spec.kind is bool:
            assert cells[2] == "on / off", (spec.name, cells[2])
            assert cells[3] == ("on" if spec.default else "off"), (spec.name, cells[3])
        else:
            assert cells[2].startswith(f"{_fmt(spec.minimum)}–{_fmt(spec.maximum)}"), (spec.name, cells[2])
            assert cells[3] == _fmt(spec.default), (spec.name, cells[3])
        assert cells[1] == spec.original, (spec.name, cells[1])


def test_readme_commands_exist():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
