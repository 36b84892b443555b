"""The Detector protocol: what every detector declares, receives and returns.

A detector never reads files or writes output. It receives an :class:`~pixelsleuth.io.ImageData` and a
:class:`Context`, and returns :class:`Evidence`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

from pixelsleuth.io.image import ImageData


class Family(StrEnum):
    MANIPULATION = "manipulation"
    AI_GENERATED = "ai_generated"
    METADATA = "metadata"
    WATERMARK = "watermark"
    PROVENANCE = "provenance"


class Severity(StrEnum):
    INFO = "info"  # context, not evidence either way
    WEAK = "weak"
    MODERATE = "moderate"
    STRONG = "strong"


class Supports(StrEnum):
    """Which hypothesis a finding is evidence for."""

    MANIPULATED = "manipulated"
    AI_GENERATED = "ai_generated"
    NONE = "none"


PROFILES = ("fast", "default", "thorough")


@dataclass
class Finding:
    message: str  # one plain-language sentence
    severity: Severity = Severity.INFO
    supports: Supports = Supports.NONE
    data: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable structured detail
    code: str = ""  # stable machine-readable id, e.g. "metadata.editing_software"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "severity": self.severity.value,
            "supports": self.supports.value,
            "data": self.data,
        }


@dataclass
class Evidence:
    """What a detector returns.

    score: probability-like strength of the detector's hypothesis in [0, 1] (None = no opinion).
    map: float32 H x W in [0, 1], the image's display size; high = suspicious.
    reliability: float32 H x W in [0, 1]; how much to trust ``map`` at each pixel.
    """

    detector: str
    version: str
    family: Family
    score: float | None = None
    map: np.ndarray | None = None
    reliability: np.ndarray | None = None
    findings: list[Finding] = field(default_factory=list)
    elapsed_s: float = 0.0
    skipped: str | None = None  # reason the detector did not run (missing model, unsupported input...)
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable detector-specific output

    def __post_init__(self) -> None:
        if self.score is not None:
            s = float(self.score)
            if not np.isfinite(s):
                s = 0.0
            self.score = float(min(1.0, max(0.0, s)))
        for attr in ("map", "reliability"):
            m = getattr(self, attr)
            if m is not None:
                # NaN -> 0, +inf -> 1, -inf -> 0, clipped to [0, 1]: fmax/fmin ignore NaN, so two passes and
                # one new array (full-resolution maps of large images made nan_to_num + clip cost ~0.1 s each)
                m = np.fmax(np.asarray(m, dtype=np.float32), np.float32(0.0))
                setattr(self, attr, np.fmin(m, np.float32(1.0), out=m))

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "version": self.version,
            "family": self.family.value,
            "score": self.score,
            "has_map": self.map is not None,
            "has_reliability": self.reliability is not None,
            "findings": [f.to_dict() for f in self.findings],
            "elapsed_s": round(self.elapsed_s, 4),
            "skipped": self.skipped,
            "extra": self.extra,
        }


@dataclass
class Context:
    """Per-run settings shared by detectors (never file handles)."""

    profile: str = "default"
    options: dict[str, Any] = field(default_factory=dict)  # detector-name -> dict of options, or global keys
    resources: dict[str, Any] = field(
        default_factory=dict
    )  # opened shared resources: e.g. "index", "watermark_key"

    def opt(self, detector: str, key: str, default: Any = None) -> Any:
        return self.options.get(detector, {}).get(key, default)


class Detector:
    """Base class. Subclasses set the ClassVars and implement :meth:`analyze`.

    ``requires`` lists the inputs needed: "rgb", "jpeg" (JPEG coefficients), "metadata", "bytes",
    "model:<name>" (a registry model), "resource:<key>" (a Context resource such as a reference index).
    ``profiles`` lists the profiles the detector runs in.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0"
    family: ClassVar[Family] = Family.MANIPULATION
    requires: ClassVar[frozenset[str]] = frozenset({"rgb"})
    profiles: ClassVar[frozenset[str]] = frozenset({"default", "thorough"})
    description: ClassVar[str] = ""

    def analyze(self, image: ImageData, context: Context) -> Evidence:  # pragma: no cover - abstract
        raise NotImplementedError

    def unavailable_reason(self, image: ImageData, context: Context) -> str | None:
        """Return why this detector cannot run on this input, or None. Default checks ``requires``."""
        for req in self.requires:
            if req == "jpeg" and image.jpeg is None:
                return "not a JPEG (no DCT coefficients)"
            if req.startswith("resource:") and req.split(":", 1)[1] not in context.resources:
                return f"needs the '{req.split(':', 1)[1]}' resource, which was not given"
            if req.startswith("model:"):
                from pixelsleuth.models.registry import model_available

                mname = req.split(":", 1)[1]
                if not model_available(mname):
                    return f"model '{mname}' is not installed; run `pixelsleuth models fetch {mname}`"
        return None

    def evidence(self, **kw: Any) -> Evidence:
        return Evidence(detector=self.name, version=self.version, family=self.family, **kw)

    def run(self, image: ImageData, context: Context) -> Evidence:
        """Run with timing, availability checks and error capture; never raises for a bad image."""
        t0 = time.perf_counter()
        reason = self.unavailable_reason(image, context)
        if reason is not None:
            ev = self.evidence(
                skipped=reason,
                findings=[Finding(f"{self.name} was skipped: {reason}.", code=f"{self.name}.skipped")],
            )
        else:
            try:
                ev = self.analyze(image, context)
            except Exception as e:  # noqa: BLE001 - a detector bug must not kill a batch
                ev = self.evidence(
                    skipped=f"internal error: {type(e).__name__}: {e}",
                    findings=[
                        Finding(
                            f"{self.name} failed on this image ({type(e).__name__}); its evidence is missing.",
                            code=f"{self.name}.error",
                        )
                    ],
                )
        ev.elapsed_s = time.perf_counter() - t0
        if ev.map is not None and ev.map.shape != image.shape:
            raise ValueError(
                f"detector {self.name} returned a map of shape {ev.map.shape}, expected {image.shape}"
            )
        return ev
