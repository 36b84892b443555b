"""The Python API.

>>> import pixelsleuth
>>> report = pixelsleuth.analyze("photo.jpg")            # doctest: +SKIP
>>> report.label, report.scores["manipulated"]            # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

from pixelsleuth.errors import PixelsleuthError
from pixelsleuth.io.loader import load_image
from pixelsleuth.pipeline import AnalyzeOptions, analyze_image
from pixelsleuth.report.model import Report


def analyze(
    src: str | os.PathLike[str] | bytes,
    profile: str = "default",
    *,
    detectors: list[str] | None = None,
    exclude: list[str] | None = None,
    index: str | os.PathLike[str] | None = None,
    watermark_key: str | None = None,
    max_pixels: int = 100_000_000,
    options: dict[str, Any] | None = None,
    threads: int = 0,
) -> Report:
    """Analyse one image (a path or the file's bytes) and return its :class:`Report`.

    ``threads`` is how many detectors run at once (0 = auto, up to 2); the report is the same for any value.

    Raises a :class:`~pixelsleuth.errors.IntakeError` subclass when the input is not a usable image.
    """
    opts = AnalyzeOptions(
        profile=profile,
        only=detectors,
        exclude=exclude,
        detector_options=options or {},
        max_pixels=max_pixels,
        index_dir=str(index) if index else None,
        watermark_key=watermark_key,
        threads=threads,
    )
    image = load_image(src, opts.limits())
    return analyze_image(image, opts)


def write_report(report: Report, out_dir: str | os.PathLike[str], name: str | None = None) -> dict[str, Any]:
    """Write a report's JSON, maps, overlay and HTML page into ``out_dir``; returns the file names."""
    from pathlib import Path

    from pixelsleuth.report.writer import write_outputs

    stem = name or (Path(report.data["image"]["name"]).stem if report.data.get("image") else "image")
    return write_outputs(report, Path(out_dir), stem)


__all__ = ["PixelsleuthError", "Report", "analyze", "write_report"]
