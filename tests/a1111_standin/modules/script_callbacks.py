"""Stand-in for ``modules.script_callbacks``: registration keeps (name, callback) pairs per category."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

callback_map: dict[str, list[tuple[str | None, Callable[..., Any]]]] = {
    "callbacks_ui_tabs": [],
    "callbacks_ui_settings": [],
    "callbacks_app_started": [],
}


def clear_callbacks() -> None:
    """What "Reload UI" does before re-importing extension scripts."""
    for callbacks in callback_map.values():
        callbacks.clear()


def on_ui_tabs(callback: Callable[[], Any], *, name: str | None = None) -> None:
    """Register ``callback() -> list[(gr.Blocks, title, elem_id)] | None``."""
    callback_map["callbacks_ui_tabs"].append((name, callback))


def on_ui_settings(callback: Callable[[], None], *, name: str | None = None) -> None:
    """Register a callback that adds options with ``shared.opts.add_option``."""
    callback_map["callbacks_ui_settings"].append((name, callback))


def on_app_started(callback: Callable[[Any, Any], None], *, name: str | None = None) -> None:
    """Register ``callback(demo, app)``."""
    callback_map["callbacks_app_started"].append((name, callback))


def ui_tabs_callback() -> list[tuple[Any, str, str]]:
    """Collect every registered tab, as the WebUI does when it builds its interface."""
    tabs: list[tuple[Any, str, str]] = []
    for _, callback in callback_map["callbacks_ui_tabs"]:
        tabs += callback() or []
    return tabs


def ui_settings_callback() -> None:
    """Run every settings callback."""
    for _, callback in callback_map["callbacks_ui_settings"]:
        callback()


def app_started_callback(demo: Any, app: Any) -> None:
    """What the WebUI calls once its FastAPI app is up (with or without --api): ``callback(demo, app)``."""
    for _, callback in callback_map["callbacks_app_started"]:
        callback(demo, app)
