"""A stand-in of the WebUI page parts "Send to img2img batch" talks to, served with real gradio.

It lays out img2img -> Batch -> Upload / From directory (selecting a sub-tab
sets a hidden mode box, as A1111 1.10 does), the batch directory boxes, and
ControlNet unit 0 as the real sd-webui-controlnet 1.1.455 (``host`` "a1111")
and Forge's built-in ControlNet (``host`` "forge") lay it out in img2img:

- the unit sits in a "ControlNet" accordion that starts closed;
- its input tabs sit in a panel that is hidden until "Upload independent
  control image" is ticked, and (un)ticking that box empties the unit's batch
  directory box;
- the tabs are Single Image / Batch / Multi-Inputs (Mikubill) or Single Image /
  Batch Folder / Batch Upload (Forge); selecting one sets the unit's input mode;
- the folder reaches the unit's server-side state only on blur, through the
  fallback chain unit box -> "Controlnet input directory" (in From directory) ->
  img2img's batch input directory; Generate sends that state, never the box;
- after the box is emptied, A1111 kept the old state (stale), Forge lost it.

The Abysz LAB tab is rendered inside a tab like A1111's ``on_ui_tabs`` does. A
"Check" button echoes what the Python side holds, so tests see what a real
img2img batch run would get. Nothing here is copied from the WebUI or ControlNet.

Run: ``python webui_page.py PORT SOURCE_DIR OUTPUT_DIR [a1111|forge]``.
"""

from __future__ import annotations

import json
import sys

import gradio as gr

from abysz_lab.ui import UISettings, build_ui, compat

UNIT = "img2img_controlnet_ControlNet-0"
INPUT_TABS = {
    "a1111": ("Single Image", "Batch", "Multi-Inputs"),
    "forge": ("Single Image", "Batch Folder", "Batch Upload"),
}


def first_folder(*folders: str) -> str:
    """ControlNet's fallback chain: the unit's own box, then its global batch box, then img2img's input."""
    return next((f for f in folders if f), "")


def page(source: str, output: str, host: str = "a1111") -> gr.Blocks:
    """The stand-in page."""
    # Like A1111's create_ui: extension tabs are built first, then rendered inside the page's Tabs.
    abysz = build_ui(UISettings(in_webui=True, source=source, output=output))
    single_label, batch_label, multi_label = INPUT_TABS[host]
    with gr.Blocks(analytics_enabled=False) as demo, gr.Tabs(elem_id="tabs"):
        with gr.Tab("txt2img", elem_id="tab_txt2img"):
            gr.Markdown("txt2img")
        with gr.Tab("img2img", elem_id="tab_img2img"), gr.Tabs(elem_id="mode_img2img"):
            with gr.Tab("img2img", elem_id="img2img_img2img_tab"):
                gr.Markdown("single image")
            with gr.Tab("Batch", elem_id="img2img_batch_tab"):
                mode = gr.Textbox(value="upload", visible=False)
                with gr.Tabs(elem_id="img2img_batch_source"):
                    with gr.Tab("Upload", elem_id="img2img_batch_upload_tab") as upload_tab:
                        gr.Markdown("upload files")
                    with gr.Tab("From directory", elem_id="img2img_batch_from_dir_tab") as dir_tab:
                        batch_in = gr.Textbox(label="Input directory", elem_id="img2img_batch_input_dir")
                        batch_out = gr.Textbox(label="Output directory", elem_id="img2img_batch_output_dir")
                        global_dir = gr.Textbox(
                            label="Controlnet input directory", elem_id="controlnet_batch_input_dir"
                        )
                upload_tab.select(lambda: "upload", inputs=None, outputs=mode)
                dir_tab.select(lambda: "from dir", inputs=None, outputs=mode)

                # ControlNet unit 0 in img2img.
                input_mode = gr.State("simple")
                unit_dir = gr.State("")
                with gr.Accordion("ControlNet", open=False, elem_id="controlnet"):
                    gr.Checkbox(label="Enable", elem_id=f"{UNIT}_controlnet_enable_checkbox")
                    independent = gr.Checkbox(
                        label="Upload independent control image",
                        elem_id=f"{UNIT}_controlnet_same_img2img_checkbox",
                    )
                    with gr.Group(visible=False) as panel, gr.Tabs():
                        with gr.Tab(single_label) as single_tab:
                            gr.Markdown("control image")
                        with gr.Tab(batch_label) as batch_tab:
                            unit_box = gr.Textbox(label="Input Directory", elem_id=f"{UNIT}_batch_image_dir")
                        with gr.Tab(multi_label) as multi_tab:
                            gr.Markdown("several images")
                for tab, value in ((single_tab, "simple"), (batch_tab, "batch"), (multi_tab, "merge")):
                    tab.select(lambda value=value: value, inputs=None, outputs=input_mode)

                def toggle_independent(ticked: bool, *folders: str):
                    kept = gr.update() if host == "a1111" else first_folder("", *folders[1:])
                    return gr.update(value=""), gr.update(visible=ticked), kept

                independent.change(
                    toggle_independent,
                    inputs=[independent, unit_dir, global_dir, batch_in],
                    outputs=[unit_box, panel, unit_dir],
                )
                for box in (unit_box, global_dir, batch_in):
                    box.blur(first_folder, inputs=[unit_box, global_dir, batch_in], outputs=unit_dir)

                check = gr.Button("Check", elem_id="standin_check")
                received = gr.Textbox(label="Received", elem_id="standin_received")

                def echo(*values: str) -> str:
                    keys = ["mode", "input", "output", "controlnet", "controlnet_mode"]
                    return json.dumps(dict(zip(keys, values, strict=True)))

                check.click(echo, inputs=[mode, batch_in, batch_out, unit_dir, input_mode], outputs=received)
        with gr.Tab("Abysz LAB", elem_id="tab_abysz_lab"):
            abysz.render()
    return demo


if __name__ == "__main__":
    port, source_dir, output_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    app = page(source_dir, output_dir, sys.argv[4] if len(sys.argv) > 4 else "a1111")
    compat.enable_queue(app, 4)
    app.launch(server_name="127.0.0.1", server_port=port, show_api=False)
