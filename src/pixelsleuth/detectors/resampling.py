"""Resampling detector: finds regions that were resized or rotated (interpolated) before being placed.

Interpolation makes each pixel a fixed linear combination of its neighbours at positions that repeat
periodically, so the residual of a linear predictor becomes periodically small. Following the fast variant of the
classical approach, a fixed 3x3 predictor residual is turned into a p-map (probability that a pixel is predictable),
and each block's p-map spectrum is searched for isolated peaks. Peaks at multiples of 1/8 (JPEG block grid) are
ignored. Blocks whose peak strength stands out from the image's own typical level are flagged.
"""

from __future__ import annotations

import math
from typing import ClassVar

import cv2
import numpy as np

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData

_PRED = np.array([[-0.25, 0.5, -0.25], [0.5, 0.0, 0.5], [-0.25, 0.5, -0.25]], np.float32)

# Calibration (benchmarks/manip_copymove_resampling.py on untouched camera crops): a block is "peaky" when its
# log10 peak-to-median ratio exceeds the image median by _DELTA and its absolute value exceeds _ABS.
_DELTA = 0.35
_ABS = 1.05
_SCORE_W = (14.0, -1.6)  # logistic on the largest connected fraction of peaky blocks


def pmap(gray: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Predictability map in (0, 1]: exp(-e^2 / sigma) of the fixed linear predictor residual (scaled)."""
    e = gray - cv2.filter2D(gray, cv2.CV_32F, _PRED, borderType=cv2.BORDER_REFLECT)
    return np.exp(-(e * e) / (2.0 * sigma * sigma * 4.0)).astype(np.float32)


def block_peak_strength(p: np.ndarray, block: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """log10 of (max / median) of each block's p-map magnitude spectrum, ignoring the DC neighbourhood and the
    JPEG grid frequencies. Returns (strength grid, block top-left ys, xs as a 2-array list)."""
    h, w = p.shape
    ys = np.arange(0, max(h - block, 0) + 1, stride)
    xs = np.arange(0, max(w - block, 0) + 1, stride)
    win = np.outer(np.hanning(block), np.hanning(block)).astype(np.float32)
    f = np.fft.fftfreq(block)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    excl = (np.abs(fy) < 0.06) & (np.abs(fx) < 0.06)
    grid8 = np.isclose((fy * 8) % 1.0, 0, atol=1.5 / block * 8) | np.isclose(
        (fy * 8) % 1.0, 1, atol=1.5 / block * 8
    )
    gridx8 = np.isclose((fx * 8) % 1.0, 0, atol=1.5 / block * 8) | np.isclose(
        (fx * 8) % 1.0, 1, atol=1.5 / block * 8
    )
    excl |= grid8 & gridx8
    # the predictor's own response is symmetric and broad; keep half plane only (spectrum is symmetric)
    keep = ~excl
    blocks = np.lib.stride_tricks.sliding_window_view(p, (block, block))[::stride, ::stride][
        : len(ys), : len(xs)
    ]
    b = blocks - blocks.mean(axis=(2, 3), keepdims=True)
    spec = np.abs(np.fft.fft2(b * win))
    vals = spec[..., keep]
    peak = vals.max(axis=-1)
    med = np.median(vals, axis=-1) + 1e-6
    return np.log10(peak / med + 1e-9).astype(np.float32), np.array([ys, xs], dtype=object)


def _largest_component_fraction(flag: np.ndarray) -> float:
    from scipy import ndimage as ndi

    lab, n = ndi.label(flag)
    if n == 0:
        return 0.0
    sizes = np.bincount(lab.ravel())[1:]
    return float(sizes.max() / flag.size)


@register
class ResamplingDetector(Detector):
    name: ClassVar[str] = "resampling"
    version: ClassVar[str] = "1.0"
    family: ClassVar[Family] = Family.MANIPULATION
    requires: ClassVar[frozenset[str]] = frozenset({"rgb"})
    profiles: ClassVar[frozenset[str]] = frozenset({"default", "thorough"})
    description: ClassVar[str] = "Finds regions carrying the periodic correlations of resizing or rotation."

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        block = int(context.opt(self.name, "block", 64))
        stride = int(context.opt(self.name, "stride", block // 2))
        gray = np.asarray(image.gray, dtype=np.float32)
        h0, w0 = gray.shape
        if min(h0, w0) < block * 2:
            return self.evidence(
                score=None,
                findings=[
                    Finding("The image is too small for resampling analysis.", code="resampling.too_small")
                ],
            )
        # bound the work on very large images: analyse a centred crop of at most 12 MP at full resolution
        max_px = float(context.opt(self.name, "max_pixels", 12e6))
        y_off = x_off = 0
        if h0 * w0 > max_px:
            s = math.sqrt(max_px / (h0 * w0))
            ch, cw = int(h0 * s), int(w0 * s)
            y_off, x_off = (h0 - ch) // 2, (w0 - cw) // 2
            gray = gray[y_off : y_off + ch, x_off : x_off + cw]
        p = pmap(gray)
        strength, (ys, xs) = block_peak_strength(p, block, stride)
        # texture: the residual energy; flat or smooth blocks carry no resampling cue
        e = gray - cv2.filter2D(gray, cv2.CV_32F, _PRED, borderType=cv2.BORDER_REFLECT)
        e_sd = cv2.blur(np.abs(e), (block, block))[
            np.asarray(ys, int)[:, None] + block // 2, np.asarray(xs, int)[None, :] + block // 2
        ]
        textured = (e_sd > 0.6) & (e_sd < 25)
        med = float(np.median(strength[textured])) if textured.any() else float(np.median(strength))
        flag = (strength > med + _DELTA) & (strength > _ABS) & textured
        peaky_all = (strength > _ABS) & textured
        frac_textured = float(textured.mean())
        global_resampled = textured.any() and float(peaky_all[textured].mean()) > 0.5
        comp = _largest_component_fraction(flag)
        z = _SCORE_W[0] * comp + _SCORE_W[1]
        score = 1.0 / (1.0 + math.exp(-z))
        # map: block strength above the image median, painted with overlap-averaging
        acc = np.zeros(gray.shape, np.float32)
        cnt = np.zeros(gray.shape, np.float32)
        val = np.clip((strength - med) / (2 * _DELTA), 0, 1) * textured
        rel_b = textured.astype(np.float32)
        rel = np.zeros(gray.shape, np.float32)
        for i, y in enumerate(np.asarray(ys, int)):
            for j, x in enumerate(np.asarray(xs, int)):
                acc[y : y + block, x : x + block] += val[i, j]
                rel[y : y + block, x : x + block] += rel_b[i, j]
                cnt[y : y + block, x : x + block] += 1
        m = acc / np.maximum(cnt, 1)
        r = rel / np.maximum(cnt, 1)
        findings: list[Finding] = []
        reliability_scale = 1.0
        if global_resampled:
            reliability_scale = 0.3
            score = min(score, 0.45)
            findings.append(
                Finding(
                    "Interpolation traces cover most of the image: the whole picture was probably resized or rotated, "
                    "so local resampling evidence is unreliable.",
                    severity=Severity.INFO,
                    code="resampling.global",
                    data={"peaky_fraction": round(float(peaky_all[textured].mean()), 3)},
                )
            )
        if frac_textured < 0.2:
            reliability_scale = min(reliability_scale, 0.3)
            findings.append(
                Finding(
                    "Little fine detail survives (smooth, heavily compressed or downscaled image); resampling traces "
                    "cannot be measured reliably.",
                    code="resampling.low_signal",
                    data={"textured_fraction": round(frac_textured, 3)},
                )
            )
        if score >= 0.5:
            findings.append(
                Finding(
                    f"A region covering about {comp * 100:.0f}% of the image shows periodic interpolation traces the "
                    "rest lacks, as if it was resized or rotated before being pasted.",
                    severity=Severity.MODERATE if score < 0.8 else Severity.STRONG,
                    supports=Supports.MANIPULATED,
                    code="resampling.region",
                    data={"region_fraction": round(comp, 4)},
                )
            )
        elif not findings:
            findings.append(Finding("No locally resampled region was found.", code="resampling.none"))
        full = np.zeros((h0, w0), np.float32)
        full_r = np.full((h0, w0), 0.0, np.float32)
        full[y_off : y_off + m.shape[0], x_off : x_off + m.shape[1]] = m
        full_r[y_off : y_off + r.shape[0], x_off : x_off + r.shape[1]] = r * reliability_scale
        return self.evidence(
            score=score,
            map=full,
            reliability=full_r,
            findings=findings,
            extra={
                "median_strength": round(med, 4),
                "flagged_blocks": int(flag.sum()),
                "largest_region_fraction": round(comp, 4),
                "textured_fraction": round(frac_textured, 4),
                "global_resampling": bool(global_resampled),
            },
        )
