"""The report object and its JSON form (schema: report/report.schema.json, published as docs/report.schema.json)."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import numpy as np

from pixelsleuth import __version__
from pixelsleuth.detectors.base import Evidence
from pixelsleuth.fusion.fuse import Verdict
from pixelsleuth.io.image import ImageData

SCHEMA_VERSION = "1.0"


def _jsonable(x: Any) -> Any:
    """Best-effort conversion of metadata values to JSON-friendly types."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, bytes):
        return f"<{len(x)} bytes>"
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist() if x.size <= 64 else f"<array {x.shape}>"
    if isinstance(x, float) and not np.isfinite(x):
        return None
    if x is None or isinstance(x, str | int | float | bool):
        return x
    return str(x)


def image_summary(image: ImageData) -> dict[str, Any]:
    return {
        "source": image.source,
        "name": image.name,
        "sha256": image.sha256,
        "format": image.format,
        "mode": image.mode,
        "bit_depth": image.bit_depth,
        "width": image.width,
        "height": image.height,
        "megapixels": round(image.megapixels, 4),
        "orientation": image.orientation,
        "file_size": image.file_size,
        "n_frames": image.n_frames,
        "animated": image.animated,
        "has_alpha": image.alpha is not None,
    }


def metadata_summary(image: ImageData) -> dict[str, Any]:
    md = image.metadata
    jpeg = None
    if image.jpeg is not None:
        jpeg = {
            "quality_estimate": image.jpeg.quality_estimate,
            "subsampling": image.jpeg.subsampling,
            "progressive": image.jpeg.progressive,
            "quant_tables": {
                str(k): np.asarray(v).astype(int).tolist() for k, v in image.jpeg.quant_tables.items()
            },
        }
    return {
        "exif": _jsonable(md.exif),
        "has_exif_thumbnail": md.exif_thumbnail is not None,
        "has_makernote": md.makernote is not None,
        "xmp": md.xmp[:20000] if md.xmp else None,
        "has_iptc": md.iptc_raw is not None,
        "png_text": {k: v[:5000] for k, v in md.png_text.items()},
        "has_icc_profile": md.icc_profile is not None,
        "c2pa_present": md.c2pa_present,
        "comments": list(md.comments),
        "jpeg": jpeg,
    }


@dataclass
class Report:
    """Everything pixelsleuth concluded about one image. ``data`` is the JSON report."""

    data: dict[str, Any]
    evidence: list[Evidence] = field(default_factory=list)
    verdict: Verdict | None = None
    image: ImageData | None = None

    @property
    def label(self) -> str | None:
        return self.data.get("label")

    @property
    def scores(self) -> dict[str, float]:
        return self.data.get("scores", {})

    @property
    def map(self) -> np.ndarray | None:
        return None if self.verdict is None else self.verdict.map

    @property
    def error(self) -> dict[str, str] | None:
        return self.data.get("error")

    def evidence_for(self, detector: str) -> Evidence | None:
        return next((e for e in self.evidence if e.detector == detector), None)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.data, indent=indent, ensure_ascii=False, allow_nan=False)


def build_report(
    image: ImageData, evidence: list[Evidence], verdict: Verdict, profile: str, elapsed_s: float
) -> Report:
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pixelsleuth", "version": __version__, "python": platform.python_version()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": profile,
        "image": image_summary(image),
        "label": verdict.label,
        "scores": verdict.scores,
        "explanation": verdict.explanation,
        "detectors": [_jsonable(e.to_dict()) for e in evidence],
        "fused_map": None
        if verdict.map is None
        else {
            "flagged_fraction": round(float((verdict.map >= 0.5).mean()), 6),
            "max": round(float(verdict.map.max()), 4),
            "threshold": 0.5,
        },
        "metadata": metadata_summary(image),
        "timing": {
            "total_s": round(elapsed_s, 4),
            "per_megapixel_s": round(elapsed_s / max(image.megapixels, 1e-6), 4),
        },
        "outputs": {},
        "error": None,
    }
    return Report(data=data, evidence=evidence, verdict=verdict, image=image)


def error_report(source: str, code: str, message: str, profile: str) -> Report:
    data = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pixelsleuth", "version": __version__, "python": platform.python_version()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": profile,
        "image": {"source": source, "name": source.rsplit("/", 1)[-1]},
        "label": None,
        "scores": None,
        "explanation": [],
        "detectors": [],
        "fused_map": None,
        "metadata": None,
        "timing": None,
        "outputs": {},
        "error": {"code": code, "message": message},
    }
    return Report(data=data)


def load_schema() -> dict[str, Any]:
    return json.loads(resources.files("pixelsleuth.report").joinpath("report.schema.json").read_text())


def validate_report(data: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if ``data`` does not follow the published schema."""
    import jsonschema

    jsonschema.validate(data, load_schema())
