"""Abysz LAB: temporal coherence for AI video.

The core is host-independent: it imports neither A1111's ``modules`` nor
gradio. Front ends (the A1111/Forge tab, the standalone web UI, the CLI) call
the functions below.
"""

__version__ = "0.2.0"
