"""ComfyUI IMAGE/MASK tensors to and from the core's 8-bit BGR frames, one frame at a time.

ComfyUI's IMAGE is a float32 torch tensor ``[B, H, W, C]``, RGB in 0..1, the
whole clip in memory; MASK is ``[B, H, W]``. The core works on 8-bit BGR numpy
frames. Converting frame by frame keeps the extra memory to one frame; outputs
go straight into a preallocated batch, so no second full-clip copy is made and
nothing is promoted to float64. torch is imported only when a node runs.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from abysz_lab.errors import InputError


def torch_module() -> Any:
    """Import torch (present wherever ComfyUI runs), with a clear message where it is not."""
    try:
        import torch
    except ImportError as exc:
        from abysz_lab.errors import MissingDependencyError

        msg = "The Abysz LAB ComfyUI nodes need torch: run them inside ComfyUI (or pip install torch)."
        raise MissingDependencyError(msg) from exc
    return torch


def check_image_batch(images: Any, role: str) -> tuple[int, int, int]:
    """Return ``(frames, height, width)`` of an IMAGE batch, or raise InputError naming ``role``."""
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4 or shape[3] not in (1, 3, 4):
        msg = (
            f"The {role} input is not an IMAGE batch [frames, height, width, channels] (got shape {list(shape)}): "
            "connect the IMAGE output of a loader or a sampler's VAE Decode."
        )
        raise InputError(msg)
    if shape[0] == 0:
        msg = f"The {role} input holds no frames."
        raise InputError(msg)
    return shape[0], shape[1], shape[2]


def to_bgr8(image: Any) -> np.ndarray:
    """One IMAGE frame ``[H, W, C]`` (float 0..1, any device) as a contiguous 8-bit BGR numpy array."""
    torch = torch_module()
    frame = image.detach()
    if frame.device.type != "cpu":
        frame = frame.cpu()
    if frame.shape[-1] == 4:
        frame = frame[..., :3]  # RGBA from some loaders: the colour is what DFI compares and blends
    # Round to nearest (x * 255 + 0.5, truncated): LoadImage's x / 255 comes back exactly; float32 at most.
    scaled = frame.to(torch.float32).mul(255.0).add_(0.5).clamp_(0.0, 255.0).to(torch.uint8).numpy()
    if scaled.shape[-1] == 1:
        return cv2.cvtColor(scaled[..., 0], cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(scaled, cv2.COLOR_RGB2BGR)


def put_bgr8(slot: Any, frame: np.ndarray) -> None:
    """Write an 8-bit BGR frame into one ``[H, W, 3]`` slot of a preallocated float32 IMAGE batch."""
    torch = torch_module()
    slot.copy_(torch.from_numpy(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
    slot.div_(255.0)  # the same value as ComfyUI's LoadImage (float32 x / 255)


def put_mask8(slot: Any, mask: np.ndarray) -> None:
    """Write an 8-bit mask (255 = 1.0) into one ``[H, W]`` slot of a preallocated float32 MASK batch."""
    torch = torch_module()
    slot.copy_(torch.from_numpy(np.ascontiguousarray(mask)))
    slot.div_(255.0)


def empty_images(frames: int, height: int, width: int) -> Any:
    """An uninitialised float32 IMAGE batch on the CPU, filled frame by frame by the nodes."""
    return torch_module().empty((frames, height, width, 3), dtype=torch_module().float32)


def empty_masks(frames: int, height: int, width: int) -> Any:
    """An uninitialised float32 MASK batch on the CPU."""
    return torch_module().empty((frames, height, width), dtype=torch_module().float32)
