#!/usr/bin/env bash
# Install the system libraries Abysz LAB's tests use, when they are missing:
# ImageMagick's MagickWand (for Wand), Debian's chromium (browser tests) and libGL (opencv-python).
# Uses apt-get (as root, or through sudo); on other systems it says what to install and goes on.
set -euo pipefail

need=()
python3 - <<'PY' || need+=(imagemagick)
import ctypes.util, sys
sys.exit(0 if any(ctypes.util.find_library(n) for n in ("MagickWand-6.Q16", "MagickWand-7.Q16HDRI", "MagickWand-7.Q16", "MagickWand")) else 1)
PY
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ldconfig -p 2>/dev/null | grep 'libGL.so.1' >/dev/null || need+=(libgl1)  # no grep -q: pipefail + SIGPIPE
ldconfig -p 2>/dev/null | grep 'libglib-2.0.so.0' >/dev/null || need+=(libglib2.0-0)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)  # text in browser screenshots

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Please install with your package manager: ${need[*]} (ImageMagick's MagickWand library, chromium, libGL)." >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "Not root and no sudo: install ${need[*]} yourself; tests that need them will be skipped." >&2
    exit 0
  fi
fi
echo "Installing system packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
