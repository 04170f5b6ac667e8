"""Motion-aware DFI: classic mode unchanged, motion mode steadier under camera motion, resume, cuts."""

from __future__ import annotations

import hashlib

import cv2
import pytest

from abysz_lab.demo import make_demo_clip
from abysz_lab.dfi import DFIParams, run_dfi

# sha256 over the decoded pixels of a classic run (DFIParams() defaults) of the demo clip, taken before
# motion mode was added. OpenCV 4 and 5 round some filters differently, so there is one digest per major
# version (the venvs of A1111 and Forge).
CLASSIC_DEMO_DIGESTS = {
    "4": "44e61de06f680d98397257252a4b6351c189640ab5d0e203b575b712b747ceab",
    "5": "7ee8331d69bb440bb6757cc72aa09b4d50b8f92c4cb2b48c0a14ba3ab10b66ea",
}


def test_classic_mode_output_is_byte_identical_to_before_motion_mode(tmp_path):
    expected = CLASSIC_DEMO_DIGESTS.get(cv2.__version__.split(".")[0])
    if expected is None:
        pytest.skip(f"no recorded digest for OpenCV {cv2.__version__}")
    clip = make_demo_clip(tmp_path / "demo")
    summary = run_dfi(clip.source, clip.generated, tmp_path / "out", DFIParams())
    digest = hashlib.sha256()
    for path in summary.outputs:
        digest.update(cv2.imread(str(path), cv2.IMREAD_UNCHANGED).tobytes())
    assert digest.hexdigest() == expected
