"""Stand-in for ComfyUI's ``folder_paths``: the output directory (tests point it at tmp_path)."""

from __future__ import annotations

output_directory = "output"


def get_output_directory():
    return output_directory
