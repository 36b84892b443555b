"""Resampling detector: finds regions that were resized or rotated (interpolated) before being placed.

Interpolation makes each pixel a fixed linear combination of its neighbours at positions that repeat
periodically, so the residual of a linear predictor becomes periodic. The magnitude of a fixed 3x3 predictor
residual (normalised by its local mean) is analysed per overlapping block: each block's log spectrum is compared
with the image's median spectrum. A region that was resized or rotated gains periodic peaks the rest lacks, or
loses the periodic signature the rest carries (camera processing, JPEG grid), so its spectrum correlates poorly
with the image's. Connected groups of such blocks are flagged.
"""

from __future__ import annotations

import math
from typing import ClassVar

import cv2
import numpy as np
import scipy.fft as sfft

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData

_PRED = np.array([[-0.25, 0.5, -0.25], [0.5, 0.0, 0.5], [-0.25, 0.5, -0.25]], np.float32)

# Calibration (benchmarks/manip_copymove_resampling_cfa.py, train split): a block is flagged when its spectral
# anomaly, averaged over its 3x3 block neighbourhood, is more than _Z robust standard deviations above the
# image's median.
_Z = 1.0
_SCORE_W = (50.0, -3.5)  # logistic on the largest connected fraction of flagged blocks


def residual_magnitude(gray: np.ndarray) -> np.ndarray:
    """Magnitude of the fixed linear-predictor residual, normalised by its local mean (so texture strength
    does not dominate): periodic interpolation makes this map periodic."""
    e = gray - cv2.filter2D(gray, cv2.CV_32F, _PRED, borderType=cv2.BORDER_REFLECT)
    a = np.abs(e)
    return (a / (cv2.blur(a, (9, 9)) + 1.0)).astype(np.float32)


def block_spectra(p: np.ndarray, block: int, stride: int) -> np.ndarray:
    """Log magnitude spectra (DC neighbourhood removed, each normalised by its median) of overlapping blocks:
    shape (ny, nx, n_freq)."""
    win = np.outer(np.hanning(block), np.hanning(block)).astype(np.float32)
    f = np.fft.fftfreq(block)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    keep = ~((np.abs(fy) < 0.06) & (np.abs(fx) < 0.06))
    blocks = np.lib.stride_tricks.sliding_window_view(p, (block, block))[::stride, ::stride]
    ny, nx = blocks.shape[:2]
    out = np.empty((ny, nx, int(keep.sum())), np.float32)
    rows = max(1, 2048 // max(nx, 1))  # bound memory: about 2048 blocks per FFT batch
    for r0 in range(0, ny, rows):
        b = blocks[r0 : r0 + rows].astype(np.float32)
        b = b - b.mean(axis=(2, 3), keepdims=True)
        spec = np.abs(sfft.fft2(b * win))[..., keep]  # float32 in, single-precision FFT
        spec /= np.median(spec, axis=-1, keepdims=True) + 1e-6
        out[r0 : r0 + rows] = np.log(spec + 1e-3)
    return out


def reference_spectrum(logspec: np.ndarray, textured: np.ndarray) -> np.ndarray:
    """The image's median log spectrum over its textured blocks (over all blocks when fewer than 4 are)."""
    ref_set = logspec[textured] if textured.sum() >= 4 else logspec.reshape(-1, logspec.shape[-1])
    return np.median(ref_set, axis=0)


def spectral_anomaly(logspec: np.ndarray, textured: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
    """1 - correlation of each block's log spectrum with the image's median log spectrum ``ref`` (computed by
    :func:`reference_spectrum` when not given). Interpolated regions gain peaks the rest lacks, or lose the periodic
    signature the rest of the image carries (camera processing, JPEG grid); both lower the correlation."""
    if ref is None:
        ref = reference_spectrum(logspec, textured)
    a = logspec - logspec.mean(axis=-1, keepdims=True)
    r = ref - ref.mean()
    corr = (a * r).sum(-1) / np.sqrt((a * a).sum(-1) * (r * r).sum() + 1e-9)
    return (1.0 - corr).astype(np.float32)


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
        # bound the work on very large images: analyse a centred crop of at most 4 MP at full resolution
        # (resizing would destroy the very traces this detector looks for)
        max_px = float(context.opt(self.name, "max_pixels", 4e6))
        y_off = x_off = 0
        if h0 * w0 > max_px:
            s = math.sqrt(max_px / (h0 * w0))
            ch, cw = int(h0 * s), int(w0 * s)
            y_off, x_off = (h0 - ch) // 2, (w0 - cw) // 2
            gray = gray[y_off : y_off + ch, x_off : x_off + cw]
        p = residual_magnitude(gray)
        logspec = block_spectra(p, block, stride)
        ny, nx = logspec.shape[:2]
        ys = np.arange(ny) * stride
        xs = np.arange(nx) * stride
        # texture: mean residual magnitude per block; flat or saturated blocks carry no cue
        e = np.abs(gray - cv2.filter2D(gray, cv2.CV_32F, _PRED, borderType=cv2.BORDER_REFLECT))
        e_b = cv2.blur(e, (block, block))[ys[:, None] + block // 2, xs[None, :] + block // 2]
        textured = (e_b > 0.6) & (e_b < 25)
        frac_textured = float(textured.mean())
        ref = reference_spectrum(logspec, textured)
        anom = spectral_anomaly(logspec, textured, ref)
        base = anom[textured] if textured.sum() >= 4 else anom.ravel()
        med = float(np.median(base))
        mad = float(np.median(np.abs(base - med))) * 1.4826 + 1e-3
        z = (anom - med) / mad
        # pool over 3x3 neighbouring blocks: a pasted region spans several blocks, noise does not
        from scipy import ndimage as ndi

        zt = np.where(textured, z, 0.0)
        wsum = ndi.uniform_filter(textured.astype(np.float32), 3, mode="constant")
        z = np.where(textured, ndi.uniform_filter(zt, 3, mode="constant") / np.maximum(wsum, 1e-6), 0.0)
        flag = (z > _Z) & textured
        comp = _largest_component_fraction(flag)
        score = 1.0 / (1.0 + math.exp(-(_SCORE_W[0] * comp + _SCORE_W[1])))
        # the image-wide signature itself (strongest peak of the median block spectrum over its median level). It is
        # reported for information only: camera JPEG grids and in-camera processing give peaks as strong as global
        # resizing does, so it cannot tell a resized image from an original one.
        global_peak = float(ref.max() - np.median(ref))
        # map: robust z-score painted with overlap averaging
        acc = np.zeros(gray.shape, np.float32)
        cnt = np.zeros(gray.shape, np.float32)
        rel = np.zeros(gray.shape, np.float32)
        val = np.clip(0.5 * z / _Z, 0, 1) * textured
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                acc[y : y + block, x : x + block] += val[i, j]
                rel[y : y + block, x : x + block] += float(textured[i, j])
                cnt[y : y + block, x : x + block] += 1
        m = acc / np.maximum(cnt, 1)
        r = rel / np.maximum(cnt, 1)
        findings: list[Finding] = []
        reliability_scale = 1.0
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
                    f"A region covering about {comp * 100:.0f}% of the image has a different periodic interpolation "
                    "signature from the rest, as if it was resized or rotated before being pasted.",
                    severity=Severity.MODERATE if score < 0.8 else Severity.STRONG,
                    supports=Supports.MANIPULATED,
                    code="resampling.region",
                    data={"region_fraction": round(comp, 4)},
                )
            )
        elif not findings:
            findings.append(Finding("No locally resampled region was found.", code="resampling.none"))
        # with (almost) no textured block there is nothing to compare: no opinion rather than a low score
        full = np.zeros((h0, w0), np.float32)
        full_r = np.full((h0, w0), 0.0, np.float32)
        full[y_off : y_off + m.shape[0], x_off : x_off + m.shape[1]] = m
        full_r[y_off : y_off + r.shape[0], x_off : x_off + r.shape[1]] = r * reliability_scale
        return self.evidence(
            score=None if frac_textured < 0.05 else score,
            map=full,
            reliability=full_r,
            findings=findings,
            extra={
                "median_anomaly": round(med, 4),
                "flagged_blocks": int(flag.sum()),
                "largest_region_fraction": round(comp, 4),
                "textured_fraction": round(frac_textured, 4),
                "global_peak_log": round(global_peak, 3),
            },
        )
