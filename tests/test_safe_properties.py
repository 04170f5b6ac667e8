"""Property tests (hypothesis): parameter parsing and the frame reader take anything and answer with our errors."""

from __future__ import annotations

import math
import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from abysz_lab import params as prm
from abysz_lab.dfi import DFIParams
from abysz_lab.errors import InputError
from abysz_lab.frames import FrameLimits, frame_limits, read_frame, set_frame_limits
from abysz_lab.imageheader import header_size
from abysz_lab.playground import PlaygroundParams
from abysz_lab.video import AssembleParams, ExtractParams

PARAM_CLASSES = [DFIParams, PlaygroundParams, ExtractParams, AssembleParams, FrameLimits]
SPECS = [spec for cls in PARAM_CLASSES for spec in prm.specs(cls)]

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["1e400", "-inf", "nan", "0x10", " 7 ", "3.0", "yes", "off", "", "1_000"]),
    st.lists(st.integers(), max_size=3),
    st.binary(max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(spec=st.sampled_from(SPECS), value=anything)
def test_check_returns_a_valid_value_or_raises_input_error(spec, value):
    refusal = ""
    try:
        checked = spec.check(value)
    except InputError as exc:
        refusal = str(exc)
    if refusal:
        assert spec.name in refusal  # the message names the parameter
        return
    assert type(checked) is spec.kind
    if spec.kind in (int, float):
        assert math.isfinite(checked)
        if spec.minimum is not None and spec.maximum is not None:
            assert spec.minimum <= checked <= spec.maximum
        if spec.odd:
            assert checked % 2 == 1
    if spec.choices is not None:
        assert checked in spec.choices


@settings(max_examples=200, deadline=None)
@given(cls=st.sampled_from(PARAM_CLASSES), data=st.data())
def test_from_mapping_builds_a_valid_object_or_raises_input_error(cls, data):
    names = [s.name for s in prm.specs(cls)] + ["not_a_parameter"]
    mapping = data.draw(st.dictionaries(st.sampled_from(names), anything, max_size=4))
    try:
        obj = prm.from_mapping(cls, mapping)
    except InputError:
        return
    prm.validate(obj)  # whatever was accepted is in range
    assert "not_a_parameter" not in mapping


# --- the frame reader -----------------------------------------------------------------------------


def encoded(image: np.ndarray, fmt: str) -> bytes:
    params = {
        "jpg": [cv2.IMWRITE_JPEG_QUALITY, 80],
        "pjpg": [cv2.IMWRITE_JPEG_PROGRESSIVE, 1],
        "webp": [cv2.IMWRITE_WEBP_QUALITY, 80],
        "webpl": [cv2.IMWRITE_WEBP_QUALITY, 101],  # lossless (VP8L)
    }.get(fmt, [])
    suffix = {"pjpg": ".jpg", "webpl": ".webp"}.get(fmt, f".{fmt}")
    ok, buf = cv2.imencode(suffix, image, params)
    assert ok
    return buf.tobytes()


FORMATS = ["png", "jpg", "pjpg", "webp", "webpl", "bmp", "tiff"]


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(FORMATS),
    width=st.integers(1, 80),
    height=st.integers(1, 80),
    channels=st.sampled_from([1, 3, 4]),
    sixteen=st.booleans(),
)
def test_header_size_agrees_with_opencv(fmt, width, height, channels, sixteen):
    depth = np.uint16 if sixteen and fmt in ("png", "tiff") else np.uint8
    if fmt.startswith(("jpg", "pjpg")) and channels == 4:
        channels = 3
    rng = np.random.default_rng(width * 131 + height)
    image = rng.integers(0, np.iinfo(depth).max, (height, width, channels), dtype=depth)
    data = encoded(image, fmt)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert header_size(data) == (decoded.shape[1], decoded.shape[0]) == (width, height)


def test_header_size_reads_webp_extended_and_large_bmp_and_jpeg_after_big_metadata():
    vp8x = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8X" + struct.pack("<I", 10) + bytes(4)
    vp8x += (5000 - 1).to_bytes(3, "little") + (3000 - 1).to_bytes(3, "little")
    assert header_size(vp8x) == (5000, 3000)
    bmp = b"BM" + bytes(12) + struct.pack("<Iii", 40, 70000, -20000)
    assert header_size(bmp) == (70000, 20000)
    jpeg = encoded(np.zeros((30, 50, 3), np.uint8), "jpg")
    app = b"\xff\xe1" + struct.pack(">H", 65535) + bytes(65533)  # a 64 KiB EXIF block before the frame header
    assert header_size(jpeg[:2] + app * 3 + jpeg[2:]) == (50, 30)


def _patched_size(data: bytes, fmt: str, width: int, height: int) -> bytes:
    """``data`` with the size in its header replaced (checksums left wrong, as an attacker would)."""
    out = bytearray(data)
    if fmt == "png":
        out[16:24] = struct.pack(">II", width, height)
    elif fmt in ("jpg", "pjpg"):
        pos = 2
        while out[pos + 1] not in (0xC0, 0xC1, 0xC2):
            pos += 2 + struct.unpack(">H", out[pos + 2 : pos + 4])[0]
        out[pos + 5 : pos + 9] = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
    elif fmt == "webp":
        out[26:30] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    elif fmt == "webpl":
        bits = ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14) | (out[24] >> 4 << 28)
        out[21:25] = struct.pack("<I", bits)
    return bytes(out)


@pytest.fixture(scope="module")
def small_limit():
    previous = set_frame_limits(FrameLimits(max_megapixels=1))
    yield frame_limits()
    set_frame_limits(previous)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from(["png", "jpg", "pjpg", "webp", "webpl"]),
    mutation=st.sampled_from(["truncate", "huge", "flip", "random"]),
    data=st.data(),
)
def test_the_reader_never_crashes_nor_allocates_past_the_limit(tmp_path_factory, small_limit, fmt, mutation, data):
    image = np.full((24, 32, 3), 90, np.uint8)
    image[::3] = 200
    valid = encoded(image, fmt)
    if mutation == "truncate":
        blob = valid[: data.draw(st.integers(0, len(valid) - 1))]
    elif mutation == "huge":
        width, height = data.draw(st.integers(1, 16383)), data.draw(st.integers(1, 16383))
        blob = _patched_size(valid, fmt, width, height)
    elif mutation == "flip":
        blob = bytearray(valid)
        for _ in range(data.draw(st.integers(1, 8))):
            blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
        blob = bytes(blob)
    else:
        blob = valid[:12] + data.draw(st.binary(max_size=300))
    assume(blob)
    path = tmp_path_factory.mktemp("frames") / f"f.{fmt.removeprefix('p').replace('webpl', 'webp')}"
    path.write_bytes(blob)
    tracemalloc.start()
    try:
        frame = read_frame(path)
    except InputError:
        frame = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    limit = small_limit.max_pixels
    assert peak < limit * 4 * 3, f"{peak / 1e6:.1f} MB allocated"  # a few frame buffers of the limit at most
    if frame is not None:
        assert frame.shape[0] * frame.shape[1] <= limit
        assert frame.dtype == np.uint8
        assert frame.shape[2] == 3


def test_a_png_claiming_too_many_pixels_is_refused_before_decoding(tmp_path, small_limit):
    header = struct.pack(">IIBBBBB", 2000, 1000, 8, 2, 0, 0, 0)
    ihdr = struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    idat = zlib.compress(bytes(2000 * 3 + 1) * 1000)
    png = b"\x89PNG\r\n\x1a\n" + ihdr + struct.pack(">I", len(idat)) + b"IDAT" + idat
    (tmp_path / "big.png").write_bytes(png + struct.pack(">I", zlib.crc32(b"IDAT" + idat)))
    tracemalloc.start()
    with pytest.raises(InputError, match="2000x1000 .* over the limit of 1 megapixels"):
        read_frame(tmp_path / "big.png")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000  # the 6 MB of pixels were never allocated
