"""Error Level Analysis (ELA) with texture normalisation and a compact-region score.

Plain ELA (recompress, subtract, display) lights up every edge and texture, so it cannot be scored as is. Here:

1. the luma channel is recompressed at a few JPEG qualities and the absolute error is measured per block;
2. each block's error is compared with what blocks *of the same texture energy in this same image* show: a robust
   binned-median fit of log(error) against log(texture), giving a residual in robust z units;
3. the per-quality z maps are averaged, and the score comes from the strongest *compact connected* region of
   unusually high residual, after discounting the size of regions that the image's own noise produces.

The map is the smoothed residual (z) pushed through a logistic, so uniform texture stays dark and only an area whose
error level disagrees with the rest of the image is bright. Never-compressed inputs are flagged, with lower
reliability, because ELA's premise (a single compression history) does not hold there.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData

_PROFILE_QUALITIES = {"fast": (90,), "default": (75, 85, 95), "thorough": (70, 78, 85, 90, 95)}
_PROFILE_BLOCK = {"fast": 16, "default": 16, "thorough": 8}

# Score calibration (see benchmarks/ela_synthetic.py and docs/bench/io_ela_metadata.md).
_Z_ON = 2.0  # a block is "hot" above this residual z
# component strength giving score 0.5, per profile: the 95th percentile over 541 untouched JPEGs from the
# calibration halves of photos/camera (single and resaved), photos/bsds500 and photos/web
# (python benchmarks/ela_calibrate.py)
_PROFILE_MID = {"fast": 3.91, "default": 2.9, "thorough": 3.51}
_SCORE_MID = _PROFILE_MID["default"]
# a region with unusually LOW error (smooth, bright or near-saturated areas produce those naturally) counts half
_LOWER_WEIGHT = 0.5
_SCORE_SLOPE = 1.6


@dataclass
class ElaResult:
    z: np.ndarray  # block-level residual z (averaged over qualities), float32
    valid: np.ndarray  # block-level bool: enough texture / not clipped
    block: int
    strength: float
    component: dict[str, Any]
    compressed_before: bool
    blockiness: float


def _luma(rgb: np.ndarray) -> np.ndarray:
    """JPEG's own RGB->Y conversion (what a JPEG encoder quantises), as uint8."""
    return np.asarray(Image.fromarray(rgb).convert("YCbCr"), dtype=np.uint8)[..., 0]


def _recompress(y: np.ndarray, q: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(y, mode="L").save(buf, "JPEG", quality=int(q))
    buf.seek(0)
    return np.asarray(Image.open(buf), dtype=np.float32)


def _block_mean(a: np.ndarray, b: int) -> np.ndarray:
    h, w = a.shape
    hb, wb = h // b, w // b
    return a[: hb * b, : wb * b].reshape(hb, b, wb, b).mean(axis=(1, 3))


def blockiness(y: np.ndarray) -> float:
    """Ratio of the mean absolute luma step across 8-pixel grid lines to the step elsewhere (1.0 = no grid)."""
    yf = y.astype(np.float32)
    if yf.shape[0] < 17 or yf.shape[1] < 17:
        return 1.0
    dh = np.abs(np.diff(yf, axis=1)).mean(axis=0)  # one mean per column step
    dv = np.abs(np.diff(yf, axis=0)).mean(axis=1)  # one mean per row step
    ch, cv = np.arange(dh.size) % 8 == 7, np.arange(dv.size) % 8 == 7
    nh, nv = yf.shape[0], yf.shape[1]  # samples behind each column / row mean
    on = (dh[ch].sum() * nh + dv[cv].sum() * nv) / (ch.sum() * nh + cv.sum() * nv)
    off = (dh[~ch].sum() * nh + dv[~cv].sum() * nv) / ((~ch).sum() * nh + (~cv).sum() * nv)
    return float((on + 1e-3) / (off + 1e-3))


TEXTURE_SIGMAS = (1.0, 3.0)  # chosen on the calibration split (benchmarks/ela_synthetic.py)


def _texture(yf: np.ndarray) -> np.ndarray:
    """Mid-frequency energy (difference of Gaussians). Fine-scale energy is avoided on purpose: an earlier JPEG
    compression removes it, which would "explain away" exactly the error difference ELA looks for."""
    s1, s2 = TEXTURE_SIGMAS
    if s1 <= 0:
        return np.abs(yf - cv2.GaussianBlur(yf, (0, 0), s2))
    return np.abs(cv2.GaussianBlur(yf, (0, 0), s1) - cv2.GaussianBlur(yf, (0, 0), s2))


def _expected_fit(x: np.ndarray, y: np.ndarray, nbins: int = 16) -> tuple[np.ndarray, np.ndarray]:
    qs = np.unique(np.quantile(x, np.linspace(0, 1, nbins + 1)))
    if qs.size < 3:
        return np.array([float(np.median(x))]), np.array([float(np.median(y))])
    idx = np.clip(np.searchsorted(qs, x, side="right") - 1, 0, qs.size - 2)
    cx, cy = [], []
    for k in range(qs.size - 1):
        sel = idx == k
        if sel.sum() >= 3:
            cx.append(float(np.median(x[sel])))
            cy.append(float(np.median(y[sel])))
    if not cx:
        return np.array([float(np.median(x))]), np.array([float(np.median(y))])
    return np.asarray(cx), np.asarray(cy)


def ela_analysis(
    rgb: np.ndarray,
    qualities: tuple[int, ...],
    block: int = 16,
    two_sided: bool = True,
    measure_blockiness: bool = True,
) -> ElaResult:
    y = _luma(rgb)
    yf = y.astype(np.float32)
    h, w = y.shape
    hb, wb = h // block, w // block
    blk = blockiness(y) if measure_blockiness else float("nan")
    if hb < 4 or wb < 4:
        empty = np.zeros((max(hb, 1), max(wb, 1)), np.float32)
        return ElaResult(empty, empty.astype(bool), block, 0.0, {}, blk > 1.1, blk)
    hp = _texture(yf)
    tex = _block_mean(hp, block)
    clipped = _block_mean(((y <= 2) | (y >= 253)).astype(np.float32), block)
    valid = (tex > 0.25) & (clipped < 0.5)
    lt = np.log(tex + 0.3)
    zs = []
    for q in qualities:
        err = _block_mean(np.abs(yf - _recompress(y, q)), block)
        le = np.log(err + 0.05)
        if valid.sum() < 16:
            continue
        cx, cy = _expected_fit(lt[valid], le[valid])
        exp = np.interp(lt, cx, cy) if cx.size > 1 else np.full_like(lt, cy[0])
        r = le - exp
        rv = r[valid]
        med = float(np.median(rv))
        mad = float(np.median(np.abs(rv - med))) * 1.4826
        zs.append((r - med) / max(mad, 0.05))
    if not zs:
        z = np.zeros((hb, wb), np.float32)
    else:
        z = np.mean(zs, axis=0).astype(np.float32)
    z = np.where(valid, z, 0.0).astype(np.float32)
    zs_med = cv2.medianBlur(np.clip(z, -10, 10).astype(np.float32), 3) if min(hb, wb) >= 3 else z
    strength, comp = _best_component(zs_med, valid)
    if two_sided:
        s_neg, comp_neg = _best_component(-zs_med, valid)
        s_neg *= _LOWER_WEIGHT
        if s_neg > strength:
            strength, comp = s_neg, {**comp_neg, "mean_z": -comp_neg["mean_z"], "direction": "lower"}
        elif comp:
            comp = {**comp, "direction": "higher"}
    return ElaResult(zs_med, valid, block, strength, comp, blk > 1.1, blk)


def _best_component(z: np.ndarray, valid: np.ndarray) -> tuple[float, dict[str, Any]]:
    hot = ((z > _Z_ON) & valid).astype(np.uint8)
    nvalid = int(valid.sum())
    if nvalid == 0 or hot.sum() == 0:
        return 0.0, {}
    n, lab, stats, _ = cv2.connectedComponentsWithStats(hot, connectivity=8)
    best, info = 0.0, {}
    for k in range(1, n):
        x, y0, bw, bh, area = (int(v) for v in stats[k])
        frac = area / nvalid
        if area < 4 or frac > 0.5:
            continue
        vals = z[lab == k]
        fill = area / float(bw * bh)
        # strength: how far above the threshold the region sits, times a saturating size term, times compactness
        excess = float(np.mean(vals) - _Z_ON)
        size = float(np.log1p(area / 4.0))
        s = (1.0 + excess) * size * (0.5 + 0.5 * min(1.0, fill / 0.5))
        if s > best:
            best = s
            info = {
                "bbox_blocks": [x, y0, bw, bh],
                "area_blocks": area,
                "area_fraction": round(frac, 4),
                "mean_z": round(float(np.mean(vals)), 3),
                "fill": round(fill, 3),
            }
    return best, info


def _to_pixels(a: np.ndarray, block: int, h: int, w: int, interp: int) -> np.ndarray:
    """Block grid -> H x W: resize to the covered area, then extend the edge over the uncovered remainder."""
    ch, cw = min(h, a.shape[0] * block), min(w, a.shape[1] * block)
    up = cv2.resize(a, (max(cw, 1), max(ch, 1)), interpolation=interp)
    return np.pad(up, ((0, h - up.shape[0]), (0, w - up.shape[1])), mode="edge").astype(np.float32)


def _score(strength: float, mid: float = _SCORE_MID) -> float:
    return float(1.0 / (1.0 + np.exp(-_SCORE_SLOPE * (strength - mid))))


@register
class ElaDetector(Detector):
    name = "ela"
    version = "1"
    family = Family.MANIPULATION
    requires = frozenset({"rgb"})
    profiles = frozenset({"fast", "default", "thorough"})
    description = (
        "Error Level Analysis: recompresses at several JPEG qualities and looks for a compact region whose error "
        "level is inconsistent with image areas of the same texture."
    )

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        profile = context.profile if context.profile in _PROFILE_QUALITIES else "default"
        qualities = tuple(context.opt(self.name, "qualities", _PROFILE_QUALITIES[profile]))
        block = int(context.opt(self.name, "block", _PROFILE_BLOCK[profile]))
        is_jpeg = image.format == "JPEG"
        res = ela_analysis(np.asarray(image.rgb), qualities, block, measure_blockiness=not is_jpeg)
        h, w = image.shape
        findings: list[Finding] = []
        compressed = is_jpeg or res.compressed_before
        lz = 1.0 / (1.0 + np.exp(-1.5 * (np.abs(res.z) - 2.5)))
        m_blocks = np.where(res.z >= 0, lz, _LOWER_WEIGHT * lz).astype(np.float32)
        m = _to_pixels(m_blocks, block, h, w, cv2.INTER_LINEAR)
        rel = _to_pixels(res.valid.astype(np.float32), block, h, w, cv2.INTER_NEAREST)
        custom = (
            context.opt(self.name, "qualities") is not None or context.opt(self.name, "block") is not None
        )
        mid = _SCORE_MID if custom else _PROFILE_MID[profile]
        score = _score(res.strength, float(context.opt(self.name, "score_mid", mid)))
        base_rel = 1.0 if compressed else 0.4
        rel *= base_rel
        if is_jpeg and image.jpeg is not None and image.jpeg.quality_estimate is not None:
            if image.jpeg.quality_estimate >= 98:
                findings.append(
                    Finding(
                        "The JPEG was saved at near-maximum quality, so error levels carry little history.",
                        code="ela.high_quality",
                        data={"quality_estimate": image.jpeg.quality_estimate},
                    )
                )
                rel *= 0.6
        if not compressed:
            findings.append(
                Finding(
                    "The image shows no sign of earlier JPEG compression, so error level analysis is less reliable.",
                    code="ela.never_compressed",
                    data={"blockiness": round(res.blockiness, 3)},
                )
            )
            score = min(score, 0.85)
        if score >= 0.5 and res.component:
            sev = Severity.STRONG if score >= 0.85 else Severity.MODERATE if score >= 0.65 else Severity.WEAK
            findings.append(
                Finding(
                    "A compact region has an error level inconsistent with similar textures elsewhere, as a pasted "
                    "or separately saved region would.",
                    severity=sev,
                    supports=Supports.MANIPULATED,
                    code="ela.inconsistent_region",
                    data={**res.component, "block": block},
                )
            )
        else:
            findings.append(
                Finding(
                    "Error levels are consistent across the image once texture is accounted for.",
                    code="ela.consistent",
                    data={"strength": round(res.strength, 3)},
                )
            )
        return self.evidence(
            score=score,
            map=m,
            reliability=rel,
            findings=findings,
            extra={
                "manipulated": score,
                "strength": round(res.strength, 4),
                "qualities": list(qualities),
                "block": block,
                "blockiness": None if np.isnan(res.blockiness) else round(res.blockiness, 4),
                "compressed_before": bool(compressed),
                "component": res.component,
            },
        )
