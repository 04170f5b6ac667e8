"""Stand-in for ``comfy.utils``: the ProgressBar nodes update, reporting through a global hook."""

from __future__ import annotations

PROGRESS_BAR_HOOK = None  # ComfyUI's server sets this; tests set it to record updates


class ProgressBar:
    """Same constructor and update methods as ComfyUI's."""

    def __init__(self, total, node_id=None):
        self.total = total
        self.current = 0
        self.hook = PROGRESS_BAR_HOOK
        self.node_id = node_id

    def update_absolute(self, value, total=None, preview=None):
        if total is not None:
            self.total = total
        self.current = min(value, self.total)
        if self.hook is not None:
            self.hook(self.current, self.total, preview, node_id=self.node_id)

    def update(self, value):
        self.update_absolute(self.current + value)
