"""A stand-in of the A1111 page parts "Send to img2img batch" talks to, served with real gradio.

It lays out img2img -> Batch -> Upload / From directory (selecting a sub-tab
sets a hidden mode box, as A1111 1.10 does), the batch directory boxes,
ControlNet unit 0's Single Image / Batch tabs and batch directory, and the Abysz LAB tab rendered inside a
tab like A1111's ``on_ui_tabs`` does. A "Check" button echoes what the Python
side received, so tests see what a real img2img batch run would get.

Run: ``python webui_page.py PORT SOURCE_DIR OUTPUT_DIR``.
"""

from __future__ import annotations

import json
import sys

import gradio as gr

from abysz_lab.ui import UISettings, build_ui, compat


def page(source: str, output: str) -> gr.Blocks:
    """The stand-in page."""
    # Like A1111's create_ui: extension tabs are built first, then rendered inside the page's Tabs.
    abysz = build_ui(UISettings(in_webui=True, source=source, output=output))
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
                upload_tab.select(lambda: "upload", inputs=None, outputs=mode)
                dir_tab.select(lambda: "from dir", inputs=None, outputs=mode)
                # ControlNet unit 0 (sd-webui-controlnet's controlnet_ui_group.py): its "Batch" tab has no
                # element id; selecting it sets the unit's input mode, and the directory reaches the unit's
                # state on blur, not on input.
                controlnet_mode = gr.State("simple")
                controlnet_dir = gr.State("")
                with gr.Tabs():
                    with gr.Tab("Single Image") as controlnet_single:
                        gr.Markdown("control image")
                    with gr.Tab("Batch") as controlnet_batch:
                        controlnet = gr.Textbox(
                            label="ControlNet Input Directory",
                            elem_id="img2img_controlnet_ControlNet-0_batch_image_dir",
                        )
                controlnet_single.select(lambda: "simple", inputs=None, outputs=controlnet_mode)
                controlnet_batch.select(lambda: "batch", inputs=None, outputs=controlnet_mode)
                controlnet.blur(lambda typed: typed, inputs=controlnet, outputs=controlnet_dir)
                check = gr.Button("Check", elem_id="standin_check")
                received = gr.Textbox(label="Received", elem_id="standin_received")

                def echo(*values: str) -> str:
                    keys = ["mode", "input", "output", "controlnet", "controlnet_mode"]
                    return json.dumps(dict(zip(keys, values, strict=True)))

                check.click(echo, inputs=[mode, batch_in, batch_out, controlnet_dir, controlnet_mode], outputs=received)
        with gr.Tab("Abysz LAB", elem_id="tab_abysz_lab"):
            abysz.render()
    return demo


if __name__ == "__main__":
    port, source_dir, output_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    app = page(source_dir, output_dir)
    compat.enable_queue(app, 4)
    app.launch(server_name="127.0.0.1", server_port=port, show_api=False)
