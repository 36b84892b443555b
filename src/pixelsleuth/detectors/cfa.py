"""CFA (demosaicing) consistency detector.

A camera sensor records one colour per pixel through a colour filter array (usually Bayer: green on a
quincunx lattice); demosaicing interpolates the rest. In the green channel the interpolated lattice is therefore
much better predicted from its four neighbours than the acquired lattice. Per block, the log ratio of the
prediction-error variance on the two lattices measures that trace; its sign tells the lattice and its size the
strength. Regions pasted from another image, resampled or heavily filtered lose the trace (or have it on the
other lattice) and are flagged. When the whole image lacks the trace (downscaled, heavily compressed, synthetic),
the detector says so and gives low reliability and no score.
"""

from __future__ import annotations

import math
from typing import ClassVar

import cv2
import numpy as np

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData

_CROSS = np.array([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], np.float32)
# image-wide median |log variance ratio| below which the trace is considered absent
_MIN_GLOBAL = 0.12
_MIN_CONSISTENT = 0.6  # and at least this fraction of textured blocks must agree on the lattice
_SCORE_W = (30.0, -2.2)  # logistic on the largest connected fraction of inconsistent blocks


def lattice_log_ratio(green: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block: log(var of prediction error on lattice A / on lattice B) and the block's error energy.

    Lattice A = pixels with (x + y) even. Returns arrays of shape (H // block, W // block).
    """
    g = green.astype(np.float32)
    e = g - cv2.filter2D(g, cv2.CV_32F, _CROSS, borderType=cv2.BORDER_REFLECT_101)
    # image borders often carry processing artefacts; leave a 2-pixel frame out of both lattices
    e[:2] = 0
    e[-2:] = 0
    e[:, :2] = 0
    e[:, -2:] = 0
    h, w = g.shape
    nb_y, nb_x = h // block, w // block
    e = e[: nb_y * block, : nb_x * block]
    yy, xx = np.mgrid[0 : nb_y * block, 0 : nb_x * block]
    lat_a = ((yy + xx) % 2 == 0).astype(np.float32)
    e2 = e * e
    ea = (e2 * lat_a).reshape(nb_y, block, nb_x, block).sum(axis=(1, 3))
    eb = (e2 * (1 - lat_a)).reshape(nb_y, block, nb_x, block).sum(axis=(1, 3))
    n_half = block * block / 2.0
    va = ea / n_half
    vb = eb / n_half
    ratio = np.log((va + 1e-3) / (vb + 1e-3))
    return ratio.astype(np.float32), ((va + vb) / 2).astype(np.float32)


def _largest_component_fraction(flag: np.ndarray) -> float:
    from scipy import ndimage as ndi

    lab, n = ndi.label(flag)
    if n == 0:
        return 0.0
    return float(np.bincount(lab.ravel())[1:].max() / flag.size)


@register
class CFADetector(Detector):
    name: ClassVar[str] = "cfa"
    version: ClassVar[str] = "1.0"
    family: ClassVar[Family] = Family.MANIPULATION
    requires: ClassVar[frozenset[str]] = frozenset({"rgb"})
    profiles: ClassVar[frozenset[str]] = frozenset({"default", "thorough"})
    description: ClassVar[str] = "Flags regions lacking the camera's colour-filter-array demosaicing trace."

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        block = int(context.opt(self.name, "block", 32))
        h0, w0 = image.shape
        if min(h0, w0) < 4 * block:
            return self.evidence(
                score=None,
                findings=[Finding("The image is too small for CFA analysis.", code="cfa.too_small")],
            )
        green = image.rgb[..., 1]
        ratio, energy = lattice_log_ratio(green, block)
        textured = (energy > 0.5) & (energy < 400)
        if textured.sum() < 8:
            textured = energy > 0
        med = float(np.median(ratio[textured])) if textured.any() else 0.0
        strength = abs(med)
        sign = 1.0 if med >= 0 else -1.0
        aligned = ratio * sign  # positive: consistent with the image's dominant lattice
        # consistency of the trace: a block is inconsistent when its aligned ratio is less than a third of the
        # image's typical strength
        thr = min(strength / 3.0, 0.3)
        inconsistent = (aligned < thr) & textured
        frac_cons = float((aligned[textured] > thr).mean()) if textured.any() else 0.0
        findings: list[Finding] = []
        nb_y, nb_x = ratio.shape
        # block map -> pixel map
        val = np.clip(1.0 - aligned / max(2.0 * thr, 1e-6), 0, 1) * textured
        m_small = cv2.resize(
            val.astype(np.float32), (nb_x * block, nb_y * block), interpolation=cv2.INTER_NEAREST
        )
        m = np.zeros((h0, w0), np.float32)
        m[: m_small.shape[0], : m_small.shape[1]] = m_small
        rel_small = cv2.resize(
            textured.astype(np.float32), (nb_x * block, nb_y * block), interpolation=cv2.INTER_NEAREST
        )
        rel = np.zeros((h0, w0), np.float32)
        rel[: rel_small.shape[0], : rel_small.shape[1]] = rel_small
        extra = {
            "global_log_ratio": round(med, 4),
            "lattice": "x+y even interpolated" if med < 0 else "x+y odd interpolated",
            "consistent_fraction": round(frac_cons, 4),
        }
        if strength < _MIN_GLOBAL or frac_cons < _MIN_CONSISTENT:
            findings.append(
                Finding(
                    "No camera demosaicing trace was found anywhere in the image (it was probably resized, heavily "
                    "compressed or not produced by a camera), so this test gives no evidence.",
                    code="cfa.absent",
                    data={"global_log_ratio": round(med, 4)},
                )
            )
            return self.evidence(
                score=None, map=m * 0.0, reliability=rel * 0.1, findings=findings, extra=extra
            )
        comp = _largest_component_fraction(inconsistent)
        # the larger the image-wide trace, the more a hole in it means
        z = _SCORE_W[0] * comp * min(1.0, strength / 0.25) + _SCORE_W[1]
        score = 1.0 / (1.0 + math.exp(-z))
        extra["largest_inconsistent_fraction"] = round(comp, 4)
        rel_scale = float(min(1.0, strength / 0.25))
        if score >= 0.5:
            findings.append(
                Finding(
                    f"A region covering about {comp * 100:.0f}% of the image lacks the demosaicing pattern found in "
                    "the rest, as expected where content was pasted in or retouched.",
                    severity=Severity.STRONG if score > 0.85 else Severity.MODERATE,
                    supports=Supports.MANIPULATED,
                    code="cfa.inconsistent_region",
                    data={"region_fraction": round(comp, 4)},
                )
            )
        else:
            findings.append(
                Finding(
                    "The camera demosaicing trace is present and consistent across the image.",
                    code="cfa.consistent",
                    data={"global_log_ratio": round(med, 4)},
                )
            )
        return self.evidence(score=score, map=m, reliability=rel * rel_scale, findings=findings, extra=extra)
