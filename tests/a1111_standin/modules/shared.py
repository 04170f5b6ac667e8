"""Stand-in for ``modules.shared``: ``opts``, ``OptionInfo`` (A1111 keeps them in modules.options) and ``cmd_opts``."""

from __future__ import annotations

import argparse
from typing import Any


class OptionInfo:
    """One setting: default, label, optional gradio component and its arguments, section."""

    def __init__(
        self,
        default: Any = None,
        label: str = "",
        component: Any = None,
        component_args: Any = None,
        onchange: Any = None,
        section: tuple[str, str] | None = None,
        refresh: Any = None,
        comment_before: str = "",
        comment_after: str = "",
        infotext: str | None = None,
        restrict_api: bool = False,
        category_id: str | None = None,
    ) -> None:
        self.default = default
        self.label = label
        self.component = component
        self.component_args = component_args
        self.onchange = onchange
        self.section = section
        self.refresh = refresh
        self.comment_before = comment_before
        self.comment_after = comment_after
        self.infotext = infotext
        self.restrict_api = restrict_api
        self.category_id = category_id
        self.do_not_save = False

    def info(self, info: str) -> OptionInfo:
        """Add a note shown after the label."""
        self.comment_after += f"<span class='info'>({info})</span>"
        return self


class Options:
    """Saved values with defaults from the registered OptionInfo; read as attributes."""

    def __init__(self) -> None:
        object.__setattr__(self, "data_labels", {})
        object.__setattr__(self, "data", {})

    def add_option(self, key: str, info: OptionInfo) -> None:
        """Register a setting; a saved value is kept."""
        self.data_labels[key] = info
        if key not in self.data and not info.do_not_save:
            self.data[key] = info.default

    def __getattr__(self, item: str) -> Any:
        data = object.__getattribute__(self, "data")
        if item in data:
            return data[item]
        labels = object.__getattribute__(self, "data_labels")
        if item in labels:
            return labels[item].default
        raise AttributeError(item)

    def __setattr__(self, key: str, value: Any) -> None:
        self.data[key] = value


opts = Options()

# The parsed command line (modules.shared_cmd_options in A1111): the flags Abysz LAB reads, at their defaults.
# Tests set them (cmd_opts.api = True, cmd_opts.api_auth = "user:pass") before calling app_started_callback.
cmd_opts = argparse.Namespace(
    api=False,
    api_auth=None,
    listen=False,
    share=False,
    server_name=None,
    hide_ui_dir_config=False,
)
