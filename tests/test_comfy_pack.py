"""The ComfyUI pack's metadata and example workflows stay true to the nodes (no torch needed: runs everywhere)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abysz_lab import params as prm
from abysz_lab.comfy import NODE_CLASS_MAPPINGS
from abysz_lab.dfi import DFIParams

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
CORE_NODES = {"PreviewImage", "PreviewAny"}  # ComfyUI's own nodes the example uses
LINK_TYPES = {"IMAGE", "MASK"}


def _widget_names(node_type: str) -> list[str]:
    required = NODE_CLASS_MAPPINGS[node_type].INPUT_TYPES()["required"]
    return [name for name, (kind, _) in required.items() if not (isinstance(kind, str) and kind in LINK_TYPES)]


def test_pyproject_has_registry_metadata_and_never_points_comfyui_at_the_a1111_scripts():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    comfy = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["comfy"]
    assert comfy["PublisherId"]
    assert comfy["DisplayName"].startswith("Abysz LAB")
    assert "web" not in comfy  # javascript/ is the A1111 tab's: ComfyUI would load it into its frontend
    assert "WEB_DIRECTORY" not in (REPO / "__init__.py").read_text()


def test_requirements_txt_never_names_an_opencv_variant():
    text = (REPO / "requirements.txt").read_text().lower()
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert not [line for line in lines if line.startswith("opencv")]


def test_the_example_workflow_for_the_browser_matches_the_nodes_widgets():
    workflow = json.loads((DOCS / "comfyui-workflow.json").read_text())
    types = [node["type"] for node in workflow["nodes"]]
    assert {"AbyszLoadFrames", "AbyszDFI", "AbyszSaveFrames"} <= set(types)
    assert set(types) <= set(NODE_CLASS_MAPPINGS) | CORE_NODES
    for node in workflow["nodes"]:
        if node["type"] in NODE_CLASS_MAPPINGS:
            assert len(node["widgets_values"]) == len(_widget_names(node["type"])), node["type"]
        if node["type"] == "AbyszDFI":
            values = dict(zip(_widget_names("AbyszDFI"), node["widgets_values"], strict=True))
            assert prm.from_mapping(DFIParams, values) == DFIParams()
    node_ids = {node["id"] for node in workflow["nodes"]}
    for _link, source, _slot, target, _target_slot, _kind in workflow["links"]:
        assert {source, target} <= node_ids


def test_the_example_workflow_files_are_what_the_nodes_declare_now():
    from abysz_lab.comfy.workflow import API_FILE, UI_FILE, as_json, example_workflows

    ui, api = example_workflows()
    stale = "is stale: regenerate it with `python -m abysz_lab.comfy.workflow docs`"
    assert (DOCS / UI_FILE).read_text() == as_json(ui), f"{UI_FILE} {stale}"
    assert (DOCS / API_FILE).read_text() == as_json(api), f"{API_FILE} {stale}"


def test_the_example_workflow_for_the_http_api_matches_the_browser_one():
    api = json.loads((DOCS / "comfyui-workflow-api.json").read_text())
    ui = {str(node["id"]): node for node in json.loads((DOCS / "comfyui-workflow.json").read_text())["nodes"]}
    assert set(api) == set(ui)
    for node_id, node in api.items():
        assert node["class_type"] == ui[node_id]["type"]
        if node["class_type"] in NODE_CLASS_MAPPINGS:
            widget_values = [node["inputs"][name] for name in _widget_names(node["class_type"])]
            assert widget_values == ui[node_id]["widgets_values"]
    assert api["3"]["inputs"]["original"] == ["1", 0]
    assert api["4"]["inputs"]["images"] == ["3", 0]
