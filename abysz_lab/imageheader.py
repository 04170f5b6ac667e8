"""Image dimensions from a file's header, without decoding a pixel.

OpenCV has no header-only API in every version, and decoding first is what
lets a 1 MB PNG claiming 32000x32000 pixels take gigabytes. These parsers read
the few bytes that hold the size for PNG, JPEG, WebP, BMP and TIFF; anything
else (or a header too broken to say) gives None and is left to the decoder.

>>> header_size(PNG_SIGNATURE + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 640, 480))
(640, 480)
"""

from __future__ import annotations

import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...): not C4 (DHT), C8 (JPG), CC (DAC).
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field


def header_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """``(width, height)`` read from an image file's bytes, or None when the format or header is not known."""
    head = bytes(data[:32])
    if head.startswith(PNG_SIGNATURE):
        return _png(data)
    if head.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _webp(data)
    if head.startswith(b"BM"):
        return _bmp(data)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff(data)
    return None


def _png(data: bytes | memoryview) -> tuple[int, int] | None:
    if len(data) < 24 or bytes(data[12:16]) != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _jpeg(data: bytes | memoryview) -> tuple[int, int] | None:
    pos, size = 2, len(data)
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return None  # lost sync: a broken file
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            if pos + 9 > size:
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


def _webp(data: bytes | memoryview) -> tuple[int, int] | None:
    if len(data) < 30:
        return None
    chunk = bytes(data[12:16])
    if chunk == b"VP8 ":
        if bytes(data[23:26]) != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            return None
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(bytes(data[24:27]), "little") + 1
        height = int.from_bytes(bytes(data[27:30]), "little") + 1
        return width, height
    return None


def _bmp(data: bytes | memoryview) -> tuple[int, int] | None:
    if len(data) < 26:
        return None
    (dib_size,) = struct.unpack("<I", data[14:18])
    if dib_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sides
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height means top-down rows


def _tiff(data: bytes | memoryview) -> tuple[int, int] | None:
    order = "<" if bytes(data[:2]) == b"II" else ">"
    if len(data) < 8:
        return None
    (ifd,) = struct.unpack(order + "I", data[4:8])
    if ifd + 2 > len(data):
        return None
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    found: dict[int, int] = {}
    for entry in range(min(count, 4096)):
        at = ifd + 2 + 12 * entry
        if at + 12 > len(data):
            break
        tag, kind = struct.unpack(order + "HH", data[at : at + 4])
        if tag in (256, 257):
            if kind == 3:  # SHORT
                (found[tag],) = struct.unpack(order + "H", data[at + 8 : at + 10])
            elif kind == 4:  # LONG
                (found[tag],) = struct.unpack(order + "I", data[at + 8 : at + 12])
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None
