"""Stand-in for ComfyUI's ``folder_paths``: the input and output directories (tests point them at tmp_path)."""

from __future__ import annotations

output_directory = "output"
input_directory = "input"


def get_output_directory():
    return output_directory


def get_input_directory():
    return input_directory
