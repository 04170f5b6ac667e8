"""A1111/Forge run this on every start (and after "Install from URL"): install what is missing.

It installs only packages that are not there at all and never touches what the
WebUI owns (opencv, numpy, gradio, Pillow): upgrading those from an extension
breaks other extensions. If ImageMagick (the native library Wand needs) cannot
be loaded, it prints how to install it. It never makes the WebUI's start fail.
"""

from __future__ import annotations

import sys

# (module to import, pip requirement). Add new pure-Python dependencies here.
REQUIREMENTS: list[tuple[str, str]] = [
    ("wand", "Wand>=0.7"),  # evaluate_images (temporal presets) arrived in 0.7
    ("tqdm", "tqdm>=4.60"),
    ("imageio_ffmpeg", "imageio-ffmpeg>=0.5"),  # ships its own ffmpeg binary: nothing needed on PATH
    ("matplotlib", "matplotlib>=3.5"),
]

# Never installed or upgraded from here, even if missing: the WebUI pins them.
HOST_OWNED = ("cv2", "numpy", "gradio", "PIL")

IMAGEMAGICK_HELP = """\
Abysz LAB: the ImageMagick library could not be loaded ({error}).
The DFI tab works without it; the deflicker tools that use ImageMagick need it. To install it:
  Windows: download the "dll" build with development libraries (e.g. ImageMagick-7.x-Q16-HDRI-x64-dll.exe)
           from https://imagemagick.org/script/download.php#windows and tick "Install development headers
           and libraries for C and C++". If Wand still cannot find it, set the MAGICK_HOME environment
           variable (or Settings > Abysz LAB > ImageMagick location) to the install folder, then restart.
  Linux:   sudo apt install libmagickwand-dev  (Debian/Ubuntu; Fedora: sudo dnf install ImageMagick-devel)
  macOS:   brew install imagemagick, and export MAGICK_HOME="$(brew --prefix imagemagick)" before starting.
"""


def missing_requirements(is_installed) -> list[str]:
    """Pip requirements whose module is not installed (host-owned packages are never listed)."""
    return [req for module, req in REQUIREMENTS if module not in HOST_OWNED and not is_installed(module)]


def outdated_requirements(version_of=None) -> list[str]:
    """Requirements that are installed but older than we need (e.g. Wand 0.6 lacks evaluate_images).

    Only our own packages are checked: the WebUI's pinned ones are never upgraded from here.
    """
    import importlib.metadata

    version_of = version_of or importlib.metadata.version
    outdated = []
    for _module, requirement in REQUIREMENTS:
        name, _, minimum = requirement.partition(">=")
        try:
            installed = version_of(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if minimum and _version_tuple(installed) < _version_tuple(minimum):
            outdated.append(requirement)
    return outdated


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def install_missing(launch) -> None:
    """Install each missing or too old requirement with A1111's run_pip; report a failure and carry on."""
    for requirement in outdated_requirements():
        try:
            launch.run_pip(f'install -U "{requirement}"', f"Abysz LAB requirement (upgrade): {requirement}")
        except (RuntimeError, OSError) as exc:
            print(f"Abysz LAB: could not upgrade {requirement}: {exc}", file=sys.stderr)
    for requirement in missing_requirements(launch.is_installed):
        try:
            launch.run_pip(f'install "{requirement}"', f"Abysz LAB requirement: {requirement}")
        except (RuntimeError, OSError) as exc:
            print(f"Abysz LAB: could not install {requirement}: {exc}", file=sys.stderr)


def imagemagick_problem() -> str:
    """Why Wand cannot load ImageMagick, or '' when it can."""
    try:
        import wand.image  # noqa: F401 - importing is the check: it loads the native library
    except ImportError as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ""


def main() -> int:
    """Install what is missing and check ImageMagick; always return 0 so the WebUI starts."""
    try:
        import launch
    except ImportError:
        launch = None
    if launch is None:
        print(
            "Abysz LAB install.py: not run by the WebUI; install with: pip install "
            + " ".join(r for _, r in REQUIREMENTS)
        )
    else:
        install_missing(launch)
    problem = imagemagick_problem()
    if problem:
        print(IMAGEMAGICK_HELP.format(error=problem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
