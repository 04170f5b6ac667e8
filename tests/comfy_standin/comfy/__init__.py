"""Stand-in for the ``comfy`` package of ComfyUI (see README.md)."""
