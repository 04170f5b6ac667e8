"""The Abysz LAB tab: one gr.Blocks for the A1111/Forge tab and the standalone web UI.

Sub-tabs are modules with a ``build(ctx: TabContext) -> None`` function, called
inside their ``gr.Tab``. Adding one is one line in :data:`SUBTABS`::

    SubTab("Tools", "abysz_tools_tab", "abysz_lab.ui.tools_tab"),

Only the ``abysz_lab.ui`` package imports gradio (lazily here, so the CLI and
the A1111 settings callback stay light); the processing modules never do.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abysz_lab import access
from abysz_lab import params as prm
from abysz_lab.access import ServerAccess
from abysz_lab.errors import InputError
from abysz_lab.frames import FrameLimits, set_frame_limits

TAB_ELEM_ID = "abysz_lab"  # A1111 tab id: ui-config keys, and the page element is "tab_abysz_lab"
ROOT_ELEM_ID = "abysz_lab_root"  # our own wrapper inside the tab; style.css is scoped under it
STYLE_FILE = Path(__file__).resolve().parents[2] / "style.css"
SCRIPT_FILE = Path(__file__).resolve().parents[2] / "javascript" / "abysz_lab.js"  # A1111 injects it itself


@dataclass(frozen=True)
class UISettings:
    """What the tab needs from its host: A1111 settings, and the standalone app's pre-filled folders.

    The three ``param`` fields are also A1111 settings (section "Abysz LAB"):
    :func:`settings_options` turns them into ``shared.OptionInfo`` arguments.
    """

    output_root: str = prm.param(
        "",
        label="Default output root folder",
        help="Where outputs go when an output folder is left empty. Empty: next to the input folder.",
    )
    preview_frames: int = prm.param(
        4,
        label="Preview frame count",
        help="How many frames 'Preview masks' shows when no frame numbers are given.",
        minimum=1,
        maximum=12,
        step=1,
    )
    magick_home: str = prm.param(
        "",
        label="ImageMagick location (MAGICK_HOME)",
        help="Folder of the ImageMagick install, for when Wand cannot find it (Windows: the folder with "
        "CORE_RL_MagickWand_.dll). Takes effect before ImageMagick is first used.",
    )
    allowed_roots: str = prm.param(
        "",
        label="Allowed folders when shared",
        help="When the WebUI listens on the network, is shared, or hides directory settings "
        "(--listen, --share, --server-name, --hide-ui-dir-config), Abysz LAB reads and writes only inside these "
        "folders (one a line). Empty: the WebUI's outputs folder. Ignored for a WebUI only this machine reaches.",
    )
    max_megapixels: float = prm.param(
        FrameLimits().max_megapixels,
        label=prm.specs(FrameLimits)[0].label,
        help=prm.specs(FrameLimits)[0].help,
        minimum=prm.specs(FrameLimits)[0].minimum,
        maximum=prm.specs(FrameLimits)[0].maximum,
        step=prm.specs(FrameLimits)[0].step,
    )
    in_webui: bool = False  # inside A1111/Forge: show "Send to img2img batch"
    source: str = ""  # pre-filled folders (standalone --demo)
    generated: str = ""
    output: str = ""

    def __post_init__(self) -> None:
        prm.validate(self)


@dataclass(frozen=True)
class SettingOption:
    """One A1111 setting: the arguments of ``shared.opts.add_option(key, OptionInfo(...))``."""

    key: str
    name: str
    default: Any
    label: str
    help: str
    component_args: dict[str, Any] | None = None
    slider: bool = False


def settings_options() -> list[SettingOption]:
    """The A1111 settings of the tab, built from :class:`UISettings` (keys ``abysz_lab_<name>``)."""
    out = []
    for spec in prm.specs(UISettings):
        ranged = spec.minimum is not None and spec.maximum is not None
        args = {"minimum": spec.minimum, "maximum": spec.maximum, "step": spec.step or 1} if ranged else None
        out.append(
            SettingOption(f"abysz_lab_{spec.name}", spec.name, spec.default, spec.label, spec.help, args, ranged)
        )
    return out


def settings_from_host(values: dict[str, Any], **extra: Any) -> UISettings:
    """UISettings from the host's saved settings (keyed by field name), plus plain fields in ``extra``.

    A missing or None value (a key A1111 saved as null) means unset. A value
    that no longer fits (a hand-edited config.json) falls back to its default
    with a console note, so a bad setting never keeps the tab from loading.
    """
    checked = {}
    for spec in prm.specs(UISettings):
        if values.get(spec.name) is None:
            continue
        try:
            checked[spec.name] = spec.check(values[spec.name])
        except InputError as exc:
            print(f"Abysz LAB: setting ignored, using the default: {exc}", file=sys.stderr)
    return UISettings(**checked, **extra)


def apply_magick_home(folder: str) -> str:
    """Point Wand at an ImageMagick folder (sets MAGICK_HOME); return a note for the console, or ''.

    Wand reads MAGICK_HOME when it is first imported, so this only helps before
    that: say so instead of pretending.
    """
    folder = folder.strip()
    if not folder:
        return ""
    if not Path(folder).is_dir():
        return f"Abysz LAB: the ImageMagick location {folder!r} is not a folder; setting ignored."
    if os.environ.get("MAGICK_HOME") == folder:
        return ""
    os.environ["MAGICK_HOME"] = folder
    if "wand.api" in sys.modules:
        return "Abysz LAB: ImageMagick location changed; restart the WebUI for it to take effect."
    return ""


@dataclass(frozen=True)
class SubTab:
    """A registered sub-tab: its title, its element id and the module whose build(ctx) fills it."""

    title: str
    elem_id: str
    module: str


# Register sub-tabs here, one line each (the Guide stays last).
SUBTABS: list[SubTab] = [
    SubTab("DFI", "abysz_dfi_tab", "abysz_lab.ui.dfi_tab"),
    SubTab("Deflicker playground", "abysz_playground_tab", "abysz_lab.ui.playground_tab"),
    SubTab("Tools", "abysz_tools_tab", "abysz_lab.ui.tools_tab"),
    SubTab("Analyze", "abysz_analyze_tab", "abysz_lab.ui.analysis_tab"),
    SubTab("Guide", "abysz_guide_tab", "abysz_lab.ui.guide"),
]


@dataclass
class TabContext:
    """What a sub-tab's build(ctx) receives."""

    settings: UISettings
    subtab: SubTab


def build_ui(settings: UISettings | None = None, *, subtabs: list[SubTab] | None = None) -> Any:
    """Build the whole Abysz LAB gr.Blocks (for ``on_ui_tabs`` or the standalone app).

    Raises ValueError if two components share a label (see common.check_unique_labels).
    """
    import gradio as gr

    from abysz_lab.ui import common, compat

    settings = settings or UISettings()
    css = STYLE_FILE.read_text(encoding="utf-8") if not settings.in_webui and STYLE_FILE.is_file() else None
    with (
        gr.Blocks(analytics_enabled=False, title="Abysz LAB", css=css) as blocks,
        gr.Column(elem_id=ROOT_ELEM_ID),
    ):
        if not settings.in_webui:
            gr.HTML('<h1 class="abysz-title">Abysz LAB</h1>', elem_id="abysz_lab_title")
        with gr.Tabs(elem_id="abysz_lab_tabs"):
            for sub in subtabs or SUBTABS:
                with gr.Tab(sub.title, id=sub.elem_id, elem_id=sub.elem_id) as tab:
                    importlib.import_module(sub.module).build(TabContext(settings, sub))
                common.scope_config_keys(tab, sub.elem_id)
        if not settings.in_webui and SCRIPT_FILE.is_file():
            compat.run_script_on_load(blocks, SCRIPT_FILE.read_text(encoding="utf-8"))
    common.check_unique_labels(blocks)
    return blocks


def apply_webui_access(settings: UISettings, cmd_opts: Any, outputs_dir: str | os.PathLike[str]) -> str:
    """Inside A1111/Forge: set the folder policy and the frame limit from the settings; return a console line.

    Confined to ``settings.allowed_roots`` (default ``outputs_dir``) only when
    ``cmd_opts`` says the WebUI is reachable from elsewhere or hides its
    directory settings (see :func:`abysz_lab.access.policy_for_webui`).
    """
    policy = access.policy_for_webui(cmd_opts, settings.allowed_roots, outputs_dir)
    access.set_policy(policy)
    set_frame_limits(FrameLimits(settings.max_megapixels))
    return "" if policy.unrestricted else f"Abysz LAB: {policy.describe()}"


def launch_standalone(
    settings: UISettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    concurrency: int = 4,
    access_rules: ServerAccess | None = None,
    api: bool = False,
) -> None:
    """Serve the tab as its own web app (queue on) until interrupted or sent SIGTERM; with ``api`` the HTTP API too.

    ``access_rules`` (default: local, no login) sets gradio's login, the
    process-wide folder policy and the Host/Origin guard on every route (the
    API's routes also ask for the login, as HTTP Basic). Raises InputError for
    a bad or busy port.
    """
    from starlette.middleware import Middleware

    from abysz_lab.ui import compat

    access.check_port(port)
    rules = access_rules or ServerAccess(host=host, rules=access.HostRules.for_bind(host))
    access.set_policy(rules.policy)
    for line in rules.warnings():
        print(line, file=sys.stderr)
    blocks = build_ui(settings)
    compat.enable_queue(blocks, concurrency)
    auth = rules.credentials.gradio_auth if rules.credentials is not None else None
    guard = Middleware(access.RequestGuard, rules=rules.rules)
    options = {"server_name": host, "server_port": port, "inbrowser": False, "show_api": False, "auth": auth}
    with compat.stop_on_sigterm():
        try:
            if not api:
                blocks.launch(**options, app_kwargs={"middleware": [guard]})
                return
            # As A1111 does: launch without blocking, add the routes to gradio's FastAPI app, then block.
            app, local_url, _ = blocks.launch(**options, app_kwargs={"middleware": [guard]}, prevent_thread_lock=True)
        except OSError as exc:  # gradio: "Cannot find empty port in range"
            where = f"Port {port} is" if port is not None else "No port from 7860 to 7959 is free: each is"
            msg = (
                f"{where} already in use (or needs admin rights: ports below 1024). "
                "Stop the other server or choose another --port."
            )
            raise InputError(msg) from exc
        from abysz_lab import api as http_api

        http_api.add_to_app(app, bind_host=host, credentials=rules.credentials, extra_hosts=rules.rules.extra_hosts)
        print(f"HTTP API at {local_url.rstrip('/')}{http_api.PREFIX}/")
        blocks.block_thread()
