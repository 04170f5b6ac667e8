"""The ComfyUI node pack of Abysz LAB: the same core as the A1111/Forge tab and the CLI, as nodes.

ComfyUI reads :data:`NODE_CLASS_MAPPINGS` and :data:`NODE_DISPLAY_NAME_MAPPINGS`
(re-exported by the repository's root ``__init__.py``). Importing this package
imports neither ComfyUI nor torch; the nodes import them when they run.
"""

from __future__ import annotations

from abysz_lab.comfy.nodes import DISPLAY_NAMES, NODE_CLASSES

NODE_CLASS_MAPPINGS: dict[str, type] = dict(NODE_CLASSES)
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = dict(DISPLAY_NAMES)

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
