"""Stand-in for ``modules.shared``: ``opts``, ``OptionInfo`` (A1111 keeps it in modules.options) and ``cmd_opts``."""

from __future__ import annotations

from typing import Any

from modules import shared_cmd_options

cmd_opts = shared_cmd_options.cmd_opts


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

    def set(self, key: str, value: Any, is_api: bool = False, run_callbacks: bool = True) -> bool:  # noqa: ARG002
        """What Settings -> Apply does for one changed value: store it, then run its onchange callback."""
        if self.data.get(key) == value:
            return False
        self.data[key] = value
        info = self.data_labels.get(key)
        if run_callbacks and info is not None and info.onchange is not None:
            info.onchange()
        return True


opts = Options()
