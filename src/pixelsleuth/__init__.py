"""pixelsleuth: image integrity and provenance toolkit."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "analyze", "load_image"]


def __getattr__(name: str):  # lazy: keep `import pixelsleuth` cheap
    if name == "analyze":
        from pixelsleuth.api import analyze

        return analyze
    if name == "load_image":
        from pixelsleuth.io import load_image

        return load_image
    raise AttributeError(name)
