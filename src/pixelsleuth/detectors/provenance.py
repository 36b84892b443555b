"""Known-original comparison: when ``analyze`` is given a reference index (``Context.resources["index"]``), find the
image's original among the references and mark what differs from it."""

from __future__ import annotations

from typing import Any

import numpy as np

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData

# changed-area fraction (of the matched area) at which the score crosses 0.5. Untouched copies that were rescaled
# and re-saved as JPEG average 0.05 % changed area (max 1.1 % on the 25 COVERAGE tuning images); see
# docs/bench/copy_detection.md
_CHANGE_AT_HALF = 0.01


def manipulation_score(changed_fraction: float, copy_probability: float) -> float:
    """0.5 when ``_CHANGE_AT_HALF`` of the matched area differs, rising on a log scale; scaled by copy_probability."""
    s = 1.0 / (1.0 + np.exp(-2.0 * np.log((changed_fraction + 1e-5) / _CHANGE_AT_HALF)))
    return float(s * copy_probability)


@register
class ProvenanceDetector(Detector):
    name = "provenance"
    version = "1"
    family = Family.PROVENANCE
    requires = frozenset({"rgb", "resource:index"})
    profiles = frozenset({"fast", "default", "thorough"})
    description = (
        "Looks the image up in a reference index of known originals; when it is a copy, aligns it with "
        "the original and maps the regions that differ."
    )

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        from pixelsleuth.provenance.search import search

        index = context.resources["index"]
        top_k = int(context.opt(self.name, "top_k", 3))
        res = search(index, image.rgb, top_k=top_k, localize=True)
        best = res.best
        extra: dict[str, Any] = {"search": res.to_dict()}
        if best is None or not best.confirmed:
            p = 0.0 if best is None else best.copy_probability
            return self.evidence(
                score=None,
                findings=[
                    Finding(
                        "No known original of this image was found in the reference index.",
                        code="provenance.no_match",
                        data={"best_copy_probability": round(p, 4)},
                    )
                ],
                extra=extra,
            )
        uri = best.ref.uri
        findings = [
            Finding(
                f"This image is a copy of a known reference ({uri}), with copy probability {best.copy_probability:.2f}.",
                severity=Severity.INFO,
                code="provenance.match",
                data={
                    "reference_id": best.ref.id,
                    "uri": uri,
                    "copy_probability": round(best.copy_probability, 4),
                    "inliers": best.inliers,
                    "mirrored": best.mirrored,
                },
            )
        ]
        diff = best.difference
        if diff is None:
            findings.append(
                Finding(
                    "The index holds no pixels for this reference, so the image could not be compared with it.",
                    code="provenance.no_reference_pixels",
                )
            )
            return self.evidence(score=None, findings=findings, extra=extra)
        frac = diff.changed_fraction
        score = manipulation_score(frac, best.copy_probability)
        if score >= 0.5:
            sev = Severity.STRONG if frac > 0.01 and best.copy_probability > 0.9 else Severity.MODERATE
            findings.append(
                Finding(
                    f"About {100 * frac:.1f}% of the matched area differs from the known original.",
                    severity=sev,
                    supports=Supports.MANIPULATED,
                    code="provenance.region_differs",
                    data={"changed_fraction": round(frac, 5)},
                )
            )
        else:
            findings.append(
                Finding(
                    "The matched area agrees with the known original (no region differs beyond re-encoding changes).",
                    severity=Severity.WEAK,
                    supports=Supports.NONE,
                    code="provenance.same_as_original",
                    data={"changed_fraction": round(frac, 5)},
                )
            )
        return self.evidence(
            score=score,
            map=diff.map,
            reliability=diff.valid.astype(np.float32),
            findings=findings,
            extra=extra,
        )
