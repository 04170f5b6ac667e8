"""The example ComfyUI workflow (load frames -> DFI -> save, with the flicker analysis), built from the nodes.

Both forms are generated from the nodes' own declarations, so a parameter added
to a dataclass reaches the example too: ``docs/comfyui-workflow.json`` (the
browser's format: drag it onto the canvas) and ``docs/comfyui-workflow-api.json``
(``POST /prompt``). Regenerate them with::

    python -m abysz_lab.comfy.workflow docs
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abysz_lab.comfy.nodes import DISPLAY_NAMES, NODE_CLASSES

LINK_TYPES = ("IMAGE", "MASK")
UI_FILE = "comfyui-workflow.json"
API_FILE = "comfyui-workflow-api.json"


@dataclass(frozen=True)
class PlannedNode:
    """One node of the example: its type, title, place on the canvas, widget changes and links in."""

    id: int
    type: str
    title: str
    pos: tuple[int, int]
    size: tuple[int, int]
    widgets: dict[str, Any] = field(default_factory=dict)
    links: dict[str, tuple[int, int]] = field(default_factory=dict)  # input name -> (node id, output slot)


EXAMPLE = (
    PlannedNode(1, "AbyszLoadFrames", "Original video frames", (40, 60), (330, 130), {"folder": "abysz_demo/source"}),
    PlannedNode(
        2, "AbyszLoadFrames", "Generated (img2img) frames", (40, 260), (330, 130), {"folder": "abysz_demo/generated"}
    ),
    PlannedNode(3, "AbyszDFI", "Abysz DFI", (420, 60), (330, 330), {}, {"original": (1, 0), "generated": (2, 0)}),
    PlannedNode(
        4,
        "AbyszSaveFrames",
        "Abysz save frames",
        (800, 60),
        (330, 160),
        {"folder": "abysz_demo_dfi", "overwrite": True},  # the example is meant to be run again and again
        {"images": (3, 0)},
    ),
    PlannedNode(
        5,
        "AbyszFlickerAnalysis",
        "Abysz flicker analysis",
        (800, 270),
        (330, 170),
        {},
        {"original": (1, 0), "generated": (2, 0), "stabilised": (3, 0)},
    ),
    # ComfyUI's own nodes: their inputs are given here, as they are not ours to read.
    PlannedNode(6, "PreviewImage", "Flicker plot", (1180, 60), (420, 380), {}, {"images": (5, 1)}),
    PlannedNode(7, "PreviewAny", "Flicker summary", (1180, 470), (420, 200), {}, {"source": (5, 0)}),
)


def widget_defaults(node_type: str) -> dict[str, Any]:
    """Widget name -> default of one of our nodes, in widget order (links such as IMAGE left out)."""
    types = NODE_CLASSES[node_type].INPUT_TYPES()
    declared = {**types["required"], **types.get("optional", {})}
    return {
        name: options.get("default")
        for name, (kind, options) in declared.items()
        if not (isinstance(kind, str) and kind in LINK_TYPES)
    }


def _link_inputs(node_type: str, planned: PlannedNode) -> list[str]:
    if node_type not in NODE_CLASSES:
        return list(planned.links)
    types = NODE_CLASSES[node_type].INPUT_TYPES()
    declared = {**types["required"], **types.get("optional", {})}
    return [name for name, (kind, _) in declared.items() if isinstance(kind, str) and kind in LINK_TYPES]


def _output_type(node_type: str, slot: int) -> str:
    return NODE_CLASSES[node_type].RETURN_TYPES[slot]


def example_workflows(plan: tuple[PlannedNode, ...] = EXAMPLE) -> tuple[dict[str, Any], dict[str, Any]]:
    """The example as ``(browser workflow, API prompt)``."""
    by_id = {p.id: p for p in plan}
    links: list[list[Any]] = []
    outgoing: dict[tuple[int, int], list[int]] = {}
    nodes, api = [], {}
    for order, planned in enumerate(plan):
        inputs = []
        for slot, name in enumerate(_link_inputs(planned.type, planned)):
            link = None
            if name in planned.links:
                source, source_slot = planned.links[name]
                link = len(links) + 1
                kind = _output_type(by_id[source].type, source_slot)
                links.append([link, source, source_slot, planned.id, slot, kind])
                outgoing.setdefault((source, source_slot), []).append(link)
            kind = "*" if planned.type == "PreviewAny" else (links[-1][5] if link else "IMAGE")  # Preview Any: any
            inputs.append({"name": name, "type": kind, "link": link})
        values = widget_defaults(planned.type) | planned.widgets if planned.type in NODE_CLASSES else {}
        nodes.append(
            {
                "id": planned.id,
                "type": planned.type,
                "title": planned.title,
                "pos": list(planned.pos),
                "size": list(planned.size),
                "flags": {},
                "order": order,
                "mode": 0,
                "inputs": inputs,
                "outputs": [],
                "properties": {"Node name for S&R": planned.type},
                "widgets_values": list(values.values()),
            }
        )
        api[str(planned.id)] = {
            "class_type": planned.type,
            "inputs": values | {name: [str(src), slot] for name, (src, slot) in planned.links.items()},
            "_meta": {"title": planned.title or DISPLAY_NAMES.get(planned.type, planned.type)},
        }
    for node in nodes:
        if node["type"] in NODE_CLASSES:
            cls = NODE_CLASSES[node["type"]]
            node["outputs"] = [
                {"name": name, "type": kind, "links": outgoing.get((node["id"], slot)) or None, "slot_index": slot}
                for slot, (name, kind) in enumerate(zip(cls.RETURN_NAMES, cls.RETURN_TYPES, strict=True))
            ]
    ui = {
        "last_node_id": max(by_id),
        "last_link_id": len(links),
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}},
        "version": 0.4,
    }
    return ui, api


def as_json(document: dict[str, Any]) -> str:
    """The exact text the docs files hold."""
    return json.dumps(document, indent=1) + "\n"


def write_examples(folder: str | Path) -> list[Path]:
    """Write both forms of the example into ``folder``; return their paths."""
    from abysz_lab.frames import write_bytes_atomic

    ui, api = example_workflows()
    paths = [Path(folder) / UI_FILE, Path(folder) / API_FILE]
    for path, document in zip(paths, (ui, api), strict=True):
        write_bytes_atomic(path, as_json(document).encode("utf-8"))
    return paths


if __name__ == "__main__":
    for written in write_examples(sys.argv[1] if len(sys.argv) > 1 else "docs"):
        print(written)
