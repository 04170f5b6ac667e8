"""Frame folders: listing, reading odd formats, atomic writes, output-folder rules."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from abysz_lab.errors import CorruptFrameError, InputError
from abysz_lab.frames import (
    WriteBehind,
    check_output_folder,
    fit_to_size,
    list_frames,
    natural_key,
    read_ahead,
    read_frame,
    write_frame,
)


def _png(path: Path, image: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    path.write_bytes(buf.tobytes())


def test_natural_sort_puts_frame2_before_frame10():
    names = ["frame10.png", "frame2.png", "Frame1.png", "frame100.png"]
    assert sorted(names, key=natural_key) == ["Frame1.png", "frame2.png", "frame10.png", "frame100.png"]


def test_listing_takes_every_image_extension_in_any_case_and_counts_the_rest(tmp_path):
    img = np.zeros((4, 4, 3), np.uint8)
    for name in ["a1.PNG", "a2.jpg", "a3.JPEG", "a4.webp", "a5.bmp", "a6.tif", "a7.TIFF"]:
        ok, buf = cv2.imencode(Path(name).suffix.lower(), img)
        (tmp_path / name).write_bytes(buf.tobytes())
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "Thumbs.db").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    listing = list_frames(tmp_path)
    assert [p.name for p in listing.frames] == ["a1.PNG", "a2.jpg", "a3.JPEG", "a4.webp", "a5.bmp", "a6.tif", "a7.TIFF"]
    assert len(listing.skipped_files) == 2
    assert len(listing.skipped_dirs) == 1
    assert "2 non-image file(s) and 1 subfolder(s)" in listing.skipped_summary


def test_missing_folder_is_reported_with_its_path(tmp_path):
    with pytest.raises(InputError, match=r"source frames folder does not exist: .*nowhere"):
        list_frames(tmp_path / "nowhere", role="source frames")


def test_empty_folder_is_reported(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(InputError, match=r"holds no images \(it holds 1 other file"):
        list_frames(tmp_path)


def test_a_file_given_as_folder_is_reported(tmp_path):
    f = tmp_path / "clip.mp4"
    f.write_bytes(b"\0")
    with pytest.raises(InputError, match="is a file, not a folder"):
        list_frames(f)


def test_grayscale_frame_reads_as_three_channel_bgr(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    _png(tmp_path / "g.png", gray)
    out = read_frame(tmp_path / "g.png")
    assert out.shape == (3, 4, 3)
    assert out.dtype == np.uint8
    assert np.array_equal(out[:, :, 0], gray)
    assert np.array_equal(out[:, :, 2], gray)


def test_rgba_frame_drops_alpha(tmp_path):
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., :3] = (10, 20, 30)
    rgba[..., 3] = 0
    _png(tmp_path / "a.png", rgba)
    out = read_frame(tmp_path / "a.png")
    assert out.shape == (3, 4, 3)
    assert tuple(out[0, 0]) == (10, 20, 30)


def test_16_bit_frame_is_scaled_to_8_bit(tmp_path):
    deep = np.full((3, 4, 3), 65535, np.uint16)
    deep[0, 0] = (0, 257 * 128, 257 * 64)
    _png(tmp_path / "d.png", deep)
    out = read_frame(tmp_path / "d.png")
    assert out.dtype == np.uint8
    assert tuple(out[0, 0]) == (0, 128, 64)
    assert tuple(out[1, 1]) == (255, 255, 255)


def test_palette_png_reads_as_bgr(tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    pal = image_module.new("P", (4, 3))
    pal.putpalette([255, 0, 0] + [0, 0, 255] * 255)  # index 0 = red
    pal.save(tmp_path / "p.png")
    out = read_frame(tmp_path / "p.png")
    assert out.shape == (3, 4, 3)
    assert tuple(out[0, 0]) == (0, 0, 255)  # red in BGR


def test_unicode_and_spaces_in_path(tmp_path):
    folder = tmp_path / "mi vídeo 動画"
    folder.mkdir()
    img = np.full((5, 6, 3), 77, np.uint8)
    write_frame(folder / "fotograma 1.png", img)
    assert np.array_equal(read_frame(folder / "fotograma 1.png"), img)


def test_corrupt_frame_error_names_the_file(tmp_path):
    (tmp_path / "frame_007.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(CorruptFrameError, match="frame_007.png"):
        read_frame(tmp_path / "frame_007.png")


def test_empty_file_is_corrupt_not_a_crash(tmp_path):
    (tmp_path / "zero.jpg").write_bytes(b"")
    with pytest.raises(CorruptFrameError, match="zero.jpg"):
        read_frame(tmp_path / "zero.jpg")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".bmp", ".tif"])
def test_write_keeps_the_format_of_the_extension_and_leaves_no_temp_file(tmp_path, ext):
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    write_frame(tmp_path / f"out{ext}", img)
    assert [p.name for p in tmp_path.iterdir()] == [f"out{ext}"]
    back = read_frame(tmp_path / f"out{ext}")
    assert back.shape == img.shape
    if ext in (".png", ".bmp", ".tif"):
        assert np.array_equal(back, img)


def test_failed_write_keeps_the_old_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "keep.png"
    old = np.full((4, 4, 3), 9, np.uint8)
    write_frame(target, old)
    before = target.read_bytes()

    class BoomError(Exception):
        pass

    def failing_replace(self, other):
        raise BoomError

    monkeypatch.setattr(Path, "replace", failing_replace)
    with pytest.raises(BoomError):
        write_frame(target, np.zeros((4, 4, 3), np.uint8))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_output_equal_to_an_input_is_refused(tmp_path):
    with pytest.raises(InputError, match="same as the input"):
        check_output_folder(tmp_path, tmp_path / "x", tmp_path)


def test_output_inside_an_input_is_refused(tmp_path):
    with pytest.raises(InputError, match="inside the input"):
        check_output_folder(tmp_path / "gen" / "out", tmp_path / "gen")


def test_output_folder_is_created_and_other_files_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert check_output_folder(out, tmp_path / "src") == out
    assert (out / "mine.txt").read_text() == "keep"
    assert check_output_folder(tmp_path / "new" / "deep", tmp_path / "src").is_dir()


def test_fit_crops_to_the_aspect_ratio_then_resizes():
    src = np.zeros((100, 200, 3), np.uint8)
    src[:, 50:150] = 200  # the centre square
    out = fit_to_size(src, 50, 50)
    assert out.shape == (50, 50, 3)
    assert out.min() == 200  # the side bands were cropped away


def test_fit_is_identity_at_the_same_size():
    src = np.ones((6, 8, 3), np.uint8)
    assert fit_to_size(src, 8, 6) is src


def test_read_ahead_yields_in_order_and_propagates_errors():
    assert list(read_ahead(lambda i: i * i, range(10), workers=3, depth=4)) == [i * i for i in range(10)]

    def bad(i):
        if i == 3:
            raise ValueError("boom")
        return i

    with pytest.raises(ValueError, match="boom"):
        list(read_ahead(bad, range(10)))


def test_write_behind_reports_written_frames_in_order(tmp_path):
    seen = []
    img = np.zeros((4, 4, 3), np.uint8)
    with WriteBehind(workers=2, depth=3, on_written=seen.append) as writer:
        for i in range(7):
            writer.submit(i, tmp_path / f"{i}.png", img)
    assert seen == list(range(7))
    assert len(list(tmp_path.glob("*.png"))) == 7


def test_write_into_a_vanished_folder_gives_an_actionable_error(tmp_path):
    with pytest.raises(InputError, match="exists and is writable"):
        write_frame(tmp_path / "deleted meanwhile" / "x.png", np.zeros((2, 2, 3), np.uint8))


def test_write_error_from_the_disk_is_reported_with_the_path(tmp_path, monkeypatch):
    def disk_full(self, other):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", disk_full)
    with pytest.raises(InputError, match=r"Cannot write .*x.png: No space left on device"):
        write_frame(tmp_path / "x.png", np.zeros((2, 2, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_a_header_claiming_a_huge_image_is_refused_not_a_crash(tmp_path):
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    (tmp_path / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk)
    with pytest.raises(InputError, match=r"huge.png .* is 100000x100000 .* over the limit of 64 megapixels"):
        read_frame(tmp_path / "huge.png")


def test_outputs_get_the_usual_file_mode_not_private(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_frame(tmp_path / "x.png", np.zeros((2, 2, 3), np.uint8))
    finally:
        os.umask(old)
    assert (tmp_path / "x.png").stat().st_mode & 0o777 == 0o644


def test_write_behind_stops_reporting_after_a_failed_write(tmp_path):
    seen = []
    img = np.zeros((4, 4, 3), np.uint8)

    def write_three() -> None:
        with WriteBehind(workers=1, depth=8, on_written=seen.append) as writer:
            writer.submit(0, tmp_path / "a.png", img)
            writer.submit(1, tmp_path / "missing folder" / "b.png", img)
            writer.submit(2, tmp_path / "c.png", img)

    with pytest.raises(InputError):
        write_three()
    assert seen == [0]
