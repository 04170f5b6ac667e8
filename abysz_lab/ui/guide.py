"""The Guide sub-tab: how DFI works and the three ways to use it (from the original README)."""

from __future__ import annotations

import gradio as gr

from abysz_lab.ui import TabContext

GUIDE_MARKDOWN = """
## How DFI works

Img2img makes every frame on its own, so areas that are **still** in the real video (a wall, the sky, a
lamp post) shimmer and boil from frame to frame. **DFI** (differential frame interpolation) compares
consecutive frames of the **original** video: where the original is still, it carries the previous
**output** frame forward; where the original moves, the new generated frame shows through. It acts as
a strong, motion-aware deflicker.

1. Each original frame is fitted to the generated size (centre crop, resize) and optionally denoised
   (*Source denoise*), so grain does not look like motion.
2. The grey-level difference with the previous original frame gives the **mask**: pixels that changed by
   at most *Tolerance* grey levels are *held* (white), the others are *refreshed* (black).
3. *Expand* grows the moving areas (less ghosting), *Mask smooth* and *Inter blur* soften the
   seam between held and refreshed areas.
4. The output is the generated frame with the previous output blended in through the mask. Every
   *Refresh every N frames* frames only *Refresh strength %* of the old frame is kept, so errors
   cannot pile up; *Inter denoise* cleans the speckle that holding can accumulate.

Use **Preview masks** before a long run: white (blue over the source) is what DFI will freeze.
Too much ghosting → lower the tolerance, raise *Expand*, or switch *Mode* to motion;
still flickering → raise the tolerance.

## Three ways to use it

**Basic.** Run DFI once and look for the balance between deflicker and ghosting. Simple, but a
single balance point is rarely the best you can get.

**Multipass.** Allow some corruption and ghosting in exchange for a much steadier video, then run the
stabilised frames through img2img a **second time at low denoising** (about 0.01-0.04, "1-4" in the
original's words). That brings back most of the detail and keeps the stability. In the A1111 tab,
**Send to img2img batch** fills img2img → Batch → *From directory* with the DFI output folder and a
new sibling output folder.

**Img2img + ControlNet on the originals (best).** Use the stabilised frames as the img2img batch input
and the **original** frames as ControlNet's batch input (HED / soft edge), so the second pass recovers
detail that follows the real video. With the ControlNet extension installed, **Send to img2img batch**
also fills ControlNet unit 0's batch input directory with the original frames: enable the unit and
pick the preprocessor and model yourself.

## Deflicker playground

For frames without their original video, or as a gentler pass after DFI. Pick a preset (each says what
its strength and window do; picking one sets its recommended values), **Preview deflicker** a few frames
(before | after stills and an animated GIF), then **Apply to folder**. *Brightness lock* and *Colour lock*
remove brightness and colour pumping while keeping slow real fades; *Temporal median* removes details that
pop in for a frame. The original's Blend, Overlay and Normalize are there too, without the original's
extra +10 brightness at Overlay strength >= 0.4 and without its mangled first frame. Presets run on
ImageMagick (through Wand) when it loads, otherwise on numpy/OpenCV with the same result, and the tab
says what to install. Save your own chains (e.g. `brightness_lock -> temporal_median:3`) under
*Playground custom presets*; they are JSON files in your user folder.

## Good to know

- Frames are paired by natural sort (`frame2` before `frame10`); with different counts the first pairs
  are used and the tab says so.
- Input folders are never changed. An interrupted run resumes where it stopped when you run it again
  with the same settings into the same output folder.
- One run at a time per tab: a second click while DFI runs only shows a message. **Cancel** stops
  after the current frame; every frame written so far is complete.
"""


def build(ctx: TabContext) -> None:  # noqa: ARG001 - every sub-tab's build takes the context
    """Lay out the Guide sub-tab."""
    gr.Markdown(GUIDE_MARKDOWN, elem_id="abysz_guide_text")
