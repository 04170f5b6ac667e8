"""Install what is missing: run by A1111/Forge on every start and by ComfyUI-Manager after an install.

The list of packages is ``requirements.txt`` next to this file (the one list;
ComfyUI-Manager pip-installs it too). Only packages that are missing or older
than required are installed, and what the host owns (OpenCV, numpy, gradio,
Pillow) is never upgraded: that breaks other extensions.

- Under A1111/Forge (``import launch`` works) it uses the WebUI's ``run_pip``.
- Elsewhere (ComfyUI-Manager, or ``python install.py`` by hand) it runs this
  Python's pip. There it also makes sure some OpenCV is present: any of
  opencv-python, -headless or -contrib is accepted as it is, and only when
  none is installed does it add opencv-python-headless (no GUI libraries;
  the variant ComfyUI packs usually use).

If ImageMagick (the native library Wand needs) cannot be loaded, it prints how
to install it. It never makes the host's start fail.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REQUIREMENTS_FILE = Path(__file__).resolve().parent / "requirements.txt"

# Never installed or upgraded by the WebUI path, even if missing: the WebUI pins them.
HOST_OWNED = ("cv2", "numpy", "gradio", "PIL")

# Any one of these provides cv2; installing a second one over it breaks cv2 (they share its files).
OPENCV_DISTRIBUTIONS = (
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python",
    "opencv-contrib-python-headless",
)
OPENCV_WHEN_NONE = "opencv-python-headless>=4.5"


def read_requirements(path: Path = REQUIREMENTS_FILE) -> list[tuple[str, str]]:
    """``(module to import, pip requirement)`` for each line of requirements.txt (comments skipped)."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        name = requirement
        for separator in ("[", ";", "<", ">", "=", "!", "~", " "):
            name = name.split(separator, 1)[0]
        # Each of our distributions imports under its own name, lowercased with - as _ (Wand -> wand).
        pairs.append((name.lower().replace("-", "_"), requirement))
    return pairs


REQUIREMENTS: list[tuple[str, str]] = read_requirements()

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


def module_importable(module: str) -> bool:
    """True when ``module`` can be imported in this Python (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def installed_opencv(version_of: Callable[[str], str] | None = None) -> list[str]:
    """The OpenCV distributions installed (any variant counts)."""
    version_of = version_of or importlib.metadata.version
    found = []
    for name in OPENCV_DISTRIBUTIONS:
        try:
            version_of(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def opencv_requirement(is_importable=module_importable, version_of=None) -> str | None:
    """What to install for OpenCV: None when cv2 imports or a variant is installed, else the headless wheel."""
    if is_importable("cv2"):
        return None
    variants = installed_opencv(version_of)
    if variants:
        # Installed but not importable: usually two variants were installed and one was removed.
        print(
            f"Abysz LAB: {', '.join(variants)} is installed but cv2 cannot be imported. Repair it with: "
            f'"{sys.executable}" -m pip install --force-reinstall {variants[0]}',
            file=sys.stderr,
        )
        return None
    return OPENCV_WHEN_NONE


def pip_install(arguments: list[str]) -> bool:
    """Run this Python's pip with ``arguments`` (a list: nothing goes through a shell); True on success."""
    try:
        result = subprocess.run([sys.executable, "-m", "pip", *arguments], check=False)
    except OSError as exc:
        print(f"Abysz LAB: could not run pip: {exc}", file=sys.stderr)
        return False
    return result.returncode == 0


def install_with_pip(
    pip: Callable[[list[str]], bool] = pip_install, is_importable=module_importable, version_of=None
) -> None:
    """Install missing or too old requirements, and an OpenCV when there is none, with this Python's pip."""
    wanted = [["install", "-U", r] for r in outdated_requirements(version_of)]
    wanted += [["install", r] for r in missing_requirements(is_importable)]
    opencv = opencv_requirement(is_importable, version_of)
    if opencv is not None:
        wanted.append(["install", opencv])
    for arguments in wanted:
        print(f"Abysz LAB: pip {' '.join(arguments)}")
        if not pip(arguments):
            print(f"Abysz LAB: could not install {arguments[-1]}; the nodes that need it will say so.", file=sys.stderr)


def main() -> int:
    """Install what is missing and check ImageMagick; always return 0 so the host starts."""
    try:
        import launch
    except ImportError:
        launch = None
    if launch is not None:
        install_missing(launch)  # A1111 / Forge
    else:
        install_with_pip()  # ComfyUI-Manager, or run by hand
    problem = imagemagick_problem()
    if problem:
        print(IMAGEMAGICK_HELP.format(error=problem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
