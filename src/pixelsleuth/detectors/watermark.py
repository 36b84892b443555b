"""Analyze-time watermark detectors.

* ``watermark``: our own keyed mark (needs ``Context.resources["watermark_key"]``). When the mark is found, the
  places where it is missing form the map: a region pasted or regenerated after marking shows as a hole.
* ``watermark_thirdparty``: known third-party marks (invisible-watermark dwtDct/dwtDctSvd; rivaGan and
  blind-watermark with user-supplied payloads), reported as findings.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData
from pixelsleuth.watermark import ours

# hole fraction at which the manipulation score crosses 0.5 (calibrated in benchmarks/wm_bench.py: marked,
# unedited photos after JPEG 75 stay below it; 20% replaced regions are far above it)
HOLE_HALF = 0.08


def hole_score(hole_fraction: float) -> float:
    f = max(0.0, float(hole_fraction))
    return f / (f + HOLE_HALF)


@register
class OurWatermarkDetector(Detector):
    name: ClassVar[str] = "watermark"
    version: ClassVar[str] = ours.VERSION
    family: ClassVar[Family] = Family.WATERMARK
    requires: ClassVar[frozenset[str]] = frozenset({"rgb", "resource:watermark_key"})
    profiles: ClassVar[frozenset[str]] = frozenset({"fast", "default", "thorough"})
    description: ClassVar[str] = (
        "Looks for pixelsleuth's own keyed watermark; where it is missing in a marked image, that region was "
        "replaced after marking."
    )

    def unavailable_reason(self, image: ImageData, context: Context) -> str | None:
        if min(image.shape) < 64:
            return "image smaller than 64 px on a side, too small to carry the watermark"
        return super().unavailable_reason(image, context)

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        key = context.resources["watermark_key"]
        p_thr = float(context.opt(self.name, "p_threshold", ours.P_THRESHOLD))
        res = ours.detect(image.rgb, key, p_threshold=p_thr, want_map=True)
        extra: dict[str, Any] = res.to_dict()
        findings: list[Finding] = []
        if not res.detected:
            findings.append(
                Finding(
                    "Our watermark was not found with this key: the image was never marked with it, or the mark "
                    "was destroyed.",
                    code="watermark.absent",
                    data={"p_value": res.p_value, "z": round(res.z, 2)},
                )
            )
            return self.evidence(score=None, findings=findings, extra=extra)
        pay = f"payload {res.payload:08x}" if res.payload is not None else "payload unreadable"
        findings.append(
            Finding(
                f"Our watermark is present ({pay}; chance of a false detection {res.p_value:.1e}).",
                code="watermark.present",
                data={"payload": res.payload, "p_value": res.p_value, "geometry": res.geometry},
            )
        )
        score = hole_score(res.hole_fraction)
        extra["manipulated"] = score  # fusion reads this for watermark-family evidence
        if score >= 0.5:
            sev = Severity.STRONG if res.hole_fraction >= 0.1 else Severity.MODERATE
            findings.append(
                Finding(
                    f"The watermark is missing from {100 * res.hole_fraction:.0f}% of the image although it is "
                    "present elsewhere: those areas were probably replaced after marking.",
                    severity=sev,
                    supports=Supports.MANIPULATED,
                    code="watermark.hole",
                    data={"hole_fraction": res.hole_fraction},
                )
            )
        mp = res.map if res.map is not None else np.zeros(image.shape, np.float32)
        return self.evidence(score=score, map=mp, reliability=res.reliability, findings=findings, extra=extra)


def _known_from_options(opts: Any) -> list[Any]:
    """User payloads: list of {"name", "method", "bits": "0101..." or list, "ai_generator": bool}."""
    from pixelsleuth.watermark.thirdparty import KnownPayload

    out = []
    for i, o in enumerate(opts or []):
        bits = o.get("bits", "")
        b = tuple(int(c) for c in bits) if isinstance(bits, str) else tuple(int(x) for x in bits)
        out.append(
            KnownPayload(
                str(o.get("name", f"user payload {i + 1}")), str(o["method"]), b, bool(o.get("ai_generator"))
            )
        )
    return out


@register
class ThirdPartyWatermarkDetector(Detector):
    name: ClassVar[str] = "watermark_thirdparty"
    version: ClassVar[str] = "1"
    family: ClassVar[Family] = Family.WATERMARK
    requires: ClassVar[frozenset[str]] = frozenset({"rgb"})
    # thorough only: importing invisible-watermark loads torch, and the sd_watermark detector already covers
    # the Stable Diffusion dwtDct mark in the default profile
    profiles: ClassVar[frozenset[str]] = frozenset({"thorough"})
    description: ClassVar[str] = (
        "Decodes invisible-watermark (dwtDct, dwtDctSvd, rivaGan) and blind-watermark marks and matches them "
        "against known payloads such as Stable Diffusion's published one."
    )

    def unavailable_reason(self, image: ImageData, context: Context) -> str | None:
        if image.height * image.width < 256 * 256:
            return "image smaller than 256x256, below what these watermark methods support"
        return super().unavailable_reason(image, context)

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        from pixelsleuth.watermark import thirdparty as tp

        known = list(tp.KNOWN_PAYLOADS) + _known_from_options(context.opt(self.name, "payloads", []))
        methods: tuple[str, ...] = ("dwtDct", "dwtDctSvd")
        if context.profile == "thorough" or context.opt(self.name, "all_methods", False):
            methods = tp.ALL_METHODS
        known = [k for k in known if k.method in methods]
        matches, skipped = tp.scan(image.rgb, known, methods)
        findings: list[Finding] = []
        for m in matches:
            ai = m.payload.ai_generator
            findings.append(
                Finding(
                    f"A {m.payload.method} invisible watermark matching {m.payload.name} was found "
                    f"({100 * m.bit_accuracy:.0f}% of {m.payload.n_bits} bits agree; chance by luck {m.p_value:.1e}).",
                    severity=Severity.STRONG if ai else Severity.INFO,
                    supports=Supports.AI_GENERATED if ai else Supports.NONE,
                    code="watermark_thirdparty.match",
                    data=m.to_dict(),
                )
            )
        for meth, reason in skipped.items():
            findings.append(
                Finding(
                    f"The {meth} watermark check was skipped: {reason}.", code="watermark_thirdparty.skipped"
                )
            )
        if not matches:
            findings.append(
                Finding(
                    "No known third-party invisible watermark was found (absence proves nothing: these marks are "
                    "easily removed).",
                    code="watermark_thirdparty.none",
                )
            )
        # findings only: the score stays None so fusion does not double-count marks that the sd_watermark
        # detector already scores
        score = None
        extra = {"matches": [m.to_dict() for m in matches], "skipped": skipped, "methods": list(methods)}
        return self.evidence(score=score, findings=findings, extra=extra)
