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


def _float32_view(image: Any) -> np.ndarray:
    """A float32 numpy view of one CPU frame (a copy only for GPU, half-precision or grad-tracking tensors)."""
    frame = image.detach()
    torch = torch_module()
    if frame.device.type != "cpu" or frame.dtype != torch.float32:
        frame = frame.to(device="cpu", dtype=torch.float32)
    return frame.numpy()


def to_bgr8(image: Any) -> np.ndarray:
    """One IMAGE frame ``[H, W, C]`` (float 0..1, any device) as a contiguous 8-bit BGR numpy array."""
    values = _float32_view(image)
    if values.shape[-1] == 4:
        values = values[..., :3]  # RGBA from some loaders: the colour is what DFI compares and blends
    values = np.ascontiguousarray(values)
    # OpenCV's saturating conversion rounds to nearest and clamps to 0..255 in one pass, with no float
    # temporaries (torch's element-wise ops allocate one per step: 10x slower per frame). x / 255 from
    # LoadImage comes back exactly.
    rgb = cv2.addWeighted(values, 255.0, values, 0.0, 0.0, dtype=cv2.CV_8U)
    if rgb.ndim == 2 or rgb.shape[-1] == 1:
        return cv2.cvtColor(rgb.reshape(rgb.shape[0], rgb.shape[1]), cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _slot_view(slot: Any) -> np.ndarray:
    """The numpy view of a slot of a batch made by :func:`empty_images` / :func:`empty_masks` (CPU, contiguous)."""
    view = slot.numpy()
    if not view.flags.c_contiguous:  # only our own preallocated batches are written into
        msg = "internal: output slots must be contiguous CPU float32 tensors"
        raise RuntimeError(msg)
    return view


def put_bgr8(slot: Any, frame: np.ndarray) -> None:
    """Write an 8-bit BGR frame into one ``[H, W, 3]`` slot of a preallocated float32 IMAGE batch."""
    # x / 255 in float32: the same value ComfyUI's LoadImage gives for that 8-bit pixel.
    np.divide(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), np.float32(255.0), out=_slot_view(slot), dtype=np.float32)


def put_mask8(slot: Any, mask: np.ndarray) -> None:
    """Write an 8-bit mask (255 = 1.0) into one ``[H, W]`` slot of a preallocated float32 MASK batch."""
    np.divide(mask, np.float32(255.0), out=_slot_view(slot), dtype=np.float32)


def empty_images(frames: int, height: int, width: int) -> Any:
    """An uninitialised float32 IMAGE batch on the CPU, filled frame by frame by the nodes."""
    torch = torch_module()
    return torch.empty((frames, height, width, 3), dtype=torch.float32)


def empty_masks(frames: int, height: int, width: int) -> Any:
    """An uninitialised float32 MASK batch on the CPU."""
    torch = torch_module()
    return torch.empty((frames, height, width), dtype=torch.float32)
