"""Noise-inconsistency detector.

Two cues, both computed on the luma plane:

* **local noise level** (every profile): the finest diagonal Haar subband, median absolute value per 16-pixel tile
  (a robust sigma estimate), compared with the image-wide level. A pasted region from another camera, a region
  with added noise or a smoothed (denoised, retouched) region stands out.
* **residual co-occurrence model** (default/thorough, in the spirit of Splicebuster): the third-order derivative
  residual, quantised and truncated to {-1, 0, 1}, four consecutive values along rows and columns form a 162-bin
  co-occurrence histogram per 64-pixel window; after a PCA, an unsupervised Gaussian-inlier / uniform-outlier
  model is fit with EM and the outlier posterior is the map.

The image-level score is a logistic model of the most suspicious compact region (its contrast, size and how much
of the flagged area it gathers), calibrated on synthetic splices vs. authentic photos (benchmarks/
manip_noise_jpeg_*.py). The returned map is scaled by that score
(:func:`map_gate`) so that authentic images produce quiet maps while the spatial ranking is kept.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import ndimage

from pixelsleuth.detectors._jpeg_util import grid_to_pixels, map_gate
from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData

TILE = 16  # pixels per tile side
WIN = 4  # tiles per window side (64 px)
MIN_SIDE = 96

# logistic score model, fit by benchmarks/manip_noise_jpeg_calibrate.py (see docs/bench/noise_jpeg.md)
_SCORE_MODELS: dict[str, tuple[dict[str, float], float]] = {
    "fast": (
        {"log_area": 0.0971, "concentration": 0.4822, "dsep": -0.0337, "ssep": -0.0096, "conc2": 1.2252},
        -0.5717,
    ),
    "default": (
        {"log_area": 0.1113, "concentration": 0.5219, "dsep": 0.1509, "ssep": 0.0190, "conc2": 1.6753},
        -2.9104,
    ),
}


def _haar_hh(g: np.ndarray) -> np.ndarray:
    h2, w2 = g.shape[0] // 2 * 2, g.shape[1] // 2 * 2
    a = g[0:h2:2, 0:w2:2]
    b = g[0:h2:2, 1:w2:2]
    c = g[1:h2:2, 0:w2:2]
    d = g[1:h2:2, 1:w2:2]
    return (a - b - c + d) * 0.5


def _tiles(a: np.ndarray, t: int) -> np.ndarray:
    th, tw = a.shape[0] // t, a.shape[1] // t
    return a[: th * t, : tw * t].reshape(th, t, tw, t).transpose(0, 2, 1, 3).reshape(th, tw, t * t)


def noise_level_tiles(g: np.ndarray) -> np.ndarray:
    """Robust noise sigma per TILE x TILE tile (MAD of the finest diagonal Haar subband)."""
    hh = _haar_hh(g)
    return np.median(np.abs(_tiles(hh, TILE // 2)), axis=2) / 0.6745


def reliability_tiles(g: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Low on very dark, saturated or flat tiles, where noise cannot be measured."""
    t = _tiles(g, TILE)
    th, tw = sigma.shape
    t = t[:th, :tw]
    mean = t.mean(axis=2)
    sat = ((t >= 250) | (t <= 3)).mean(axis=2)
    dark = np.clip((mean - 12.0) / 20.0, 0, 1)
    bright = np.clip((248.0 - mean) / 15.0, 0, 1)
    unsat = np.clip(1.0 - 2.0 * sat, 0, 1)
    # flat = no content variation at all (the noise of a blurred but textured area is still measurable)
    flat = np.clip((t.std(axis=2) - 0.5) / 1.5, 0, 1)
    return (dark * bright * unsat * flat).astype(np.float32)


def _canonical_bins() -> tuple[np.ndarray, int]:
    """Map the 81 4-tuples over {0,1,2} to classes closed under reversal and sign flip (value v -> 2 - v)."""
    lut = np.zeros(81, dtype=np.int64)
    canon: dict[int, int] = {}
    for code in range(81):
        t = [code // 27, (code // 9) % 3, (code // 3) % 3, code % 3]
        variants = [t, t[::-1], [2 - v for v in t], [2 - v for v in t[::-1]]]
        key = min(v[0] * 27 + v[1] * 9 + v[2] * 3 + v[3] for v in variants)
        lut[code] = canon.setdefault(key, len(canon))
    return lut, len(canon)


_LUT, NBINS = _canonical_bins()


def _cooc_codes(g: np.ndarray, q: float, axis: int) -> np.ndarray:
    """Third-order residual along ``axis``, quantised to {0,1,2}; 4-tuples along the same axis -> symmetric class."""
    inv = np.float32(1.0 / q)
    if axis == 1:
        r = (g[:, :-3] - g[:, 3:]) + 3.0 * (g[:, 2:-1] - g[:, 1:-2])
    else:
        r = (g[:-3] - g[3:]) + 3.0 * (g[2:-1] - g[1:-2])
    c = (np.clip(np.rint(r * inv), -1, 1) + 1).astype(np.uint8)
    if axis == 1:
        code = c[:, :-3] * 27 + c[:, 1:-2] * 9 + c[:, 2:-1] * 3 + c[:, 3:]
    else:
        code = c[:-3] * 27 + c[1:-2] * 9 + c[2:-1] * 3 + c[3:]
    return _LUT[code]


def cooc_tile_hist(g: np.ndarray, q: float, th: int, tw: int) -> np.ndarray:
    """(th, tw, 2 * NBINS) co-occurrence counts per tile (row-wise then column-wise)."""
    out = np.zeros((th, tw, 2 * NBINS), dtype=np.float32)
    for k, axis in enumerate((1, 0)):
        code = _cooc_codes(g, q, axis)
        h, w = code.shape
        ti = np.minimum((np.arange(h) + (3 if axis == 0 else 0)) // TILE, th - 1)
        tj = np.minimum((np.arange(w) + (3 if axis == 1 else 0)) // TILE, tw - 1)
        tidx = (ti[:, None] * (tw * NBINS) + tj[None, :] * NBINS) + code
        cnt = np.bincount(tidx.ravel(), minlength=th * tw * NBINS).astype(np.float32)
        out[:, :, k * NBINS : (k + 1) * NBINS] = cnt.reshape(th, tw, NBINS)
    return out


def gauss_uniform_em(x: np.ndarray, w: np.ndarray, iters: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """Fit inlier Gaussian + uniform outliers; returns (outlier posterior, Mahalanobis d2) for every row of x.

    ``w`` weights each sample's contribution to the fit (reliability)."""
    n, d = x.shape
    lo, hi = np.percentile(x, 0.5, axis=0), np.percentile(x, 99.5, axis=0)
    log_u = -float(np.sum(np.log(np.maximum(hi - lo, 1e-6))))
    mu = np.median(x, axis=0)
    cov = np.cov(x.T, aweights=w + 1e-6) + 1e-6 * np.eye(d)
    pi_out = 0.1
    post = np.zeros(n)
    d2 = np.zeros(n)
    for _ in range(iters):
        icov = np.linalg.inv(cov)
        diff = x - mu
        d2 = ((diff @ icov) * diff).sum(axis=1)
        _, logdet = np.linalg.slogdet(cov)
        log_g = -0.5 * (d2 + logdet + d * np.log(2 * np.pi))
        a = np.log(pi_out) + log_u
        b = np.log(1 - pi_out) + log_g
        post = 1.0 / (1.0 + np.exp(np.clip(b - a, -50, 50)))
        wi = (1 - post) * w
        sw = wi.sum() + 1e-9
        mu = (wi[:, None] * x).sum(0) / sw
        diff = x - mu
        cov = (wi[:, None] * diff).T @ diff / sw + 1e-4 * np.eye(d)
        pi_out = float(np.clip((post * w).sum() / (w.sum() + 1e-9), 0.01, 0.5))
    return post, d2


def _largest_blob_share(mask: np.ndarray) -> float:
    lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return 0.0
    sizes = ndimage.sum(mask, lab, index=np.arange(1, n + 1))
    return float(sizes.max() / mask.sum())


def region_features(res: dict[str, Any]) -> dict[str, float]:
    """Features of the most suspicious compact region (tile grid) used by the image-level score."""
    m, rel = res["map"], res["rel"]
    logsig = np.log(np.maximum(res["sigma"], 0.05))
    d2 = np.log1p(res["d2"]) if "d2" in res else res["z_abs"]
    feats = {"log_area": -7.0, "concentration": 0.0, "dsep": 0.0, "ssep": 0.0, "conc2": 0.0, "area": 0.0}
    good_rel = rel > 0.3
    top = d2 > np.percentile(d2, 90)
    feats["conc2"] = _largest_blob_share(top)
    mask = (m * (rel > 0.2)) > 0.5
    if not mask.any():
        return feats
    lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = ndimage.sum(mask, lab, index=np.arange(1, n + 1))
    k = int(np.argmax(sizes)) + 1
    comp = lab == k
    area = float(comp.mean())
    feats["area"] = area
    feats["log_area"] = float(np.log(area + 1e-3))
    feats["concentration"] = float(sizes[k - 1] / mask.sum()) * float(area < 0.5)
    rest = good_rel & ~comp
    inside = comp & good_rel
    if rest.sum() >= 4 and inside.any():
        feats["dsep"] = float((np.median(d2[comp]) - np.median(d2[rest])) / (d2[rest].std() + 1e-3))
        ls = logsig[rest]
        spread = 1.4826 * float(np.median(np.abs(ls - np.median(ls)))) + 0.05
        feats["ssep"] = float(abs(np.median(logsig[inside]) - np.median(ls)) / spread)
    return feats


def score_from_features(f: dict[str, float], profile: str) -> float:
    w, b = _SCORE_MODELS["fast" if profile == "fast" else "default"]
    z = b + sum(w[k] * f[k] for k in w)
    return float(1.0 / (1.0 + np.exp(-z)))


def analyze_noise(g: np.ndarray, profile: str) -> dict[str, Any]:
    """Core computation on a float luma plane; returns tile-grid maps and statistics."""
    sig = noise_level_tiles(g)
    th, tw = sig.shape
    rel = reliability_tiles(g, sig)
    logs = np.log(np.maximum(sig, 0.05))
    if profile != "fast":
        logs = ndimage.median_filter(logs, size=3, mode="nearest")
    good = rel > 0.3
    ref = logs[good] if good.sum() >= 8 else logs.ravel()
    med = float(np.median(ref))
    mad = float(np.median(np.abs(ref - med))) * 1.4826 + 0.08
    z = (logs - med) / mad
    nl_map = np.clip((np.abs(z) - 2.0) / 3.0, 0, 1).astype(np.float32)
    out: dict[str, Any] = {
        "sigma": sig,
        "rel": rel,
        "nl_map": nl_map,
        "global_sigma": float(np.exp(med)),
        "z_abs": np.abs(z),
    }
    if profile == "fast":
        out["map"] = nl_map
        return out
    # co-occurrence model
    gs = g[::3, ::3] if g.size > 400_000 else g
    rh = np.abs(gs[:, :-3] - 3.0 * gs[:, 1:-2] + 3.0 * gs[:, 2:-1] - gs[:, 3:])
    q = float(max(1.0, np.median(rh)))
    hist = cooc_tile_hist(g, q, th, tw)
    win = min(WIN, th, tw)
    whist = ndimage.uniform_filter(hist, size=(win, win, 1), mode="nearest")
    s1 = whist[:, :, :NBINS].sum(2, keepdims=True) + 1e-6
    s2 = whist[:, :, NBINS:].sum(2, keepdims=True) + 1e-6
    feat = np.sqrt(np.concatenate([whist[:, :, :NBINS] / s1, whist[:, :, NBINS:] / s2], axis=2))
    feat = feat.reshape(th * tw, 2 * NBINS)
    wrel = ndimage.uniform_filter(rel, size=win, mode="nearest").ravel()
    mu = np.average(feat, axis=0, weights=wrel + 1e-6)
    xc = feat - mu
    dim = 10 if profile == "thorough" else 8
    fit_rows = xc[wrel > 0.3] if (wrel > 0.3).sum() > 4 * dim else xc
    evals, evecs = np.linalg.eigh(fit_rows.T @ fit_rows / len(fit_rows))
    pcs = xc @ evecs[:, ::-1][:, :dim]
    pcs /= pcs[wrel > 0.3].std(axis=0) + 1e-6 if (wrel > 0.3).sum() > 4 * dim else pcs.std(axis=0) + 1e-6
    post, d2 = gauss_uniform_em(pcs, wrel)
    co_map = post.reshape(th, tw).astype(np.float32)
    co_map = ndimage.uniform_filter(co_map, size=3, mode="nearest")
    out["co_map"] = co_map
    out["d2"] = d2.reshape(th, tw)
    out["map"] = np.maximum(co_map, nl_map) * np.clip(rel * 2.0, 0, 1)
    return out


@register
class NoiseDetector(Detector):
    name: ClassVar[str] = "noise"
    version: ClassVar[str] = "1.0"
    family: ClassVar[Family] = Family.MANIPULATION
    requires: ClassVar[frozenset[str]] = frozenset({"rgb"})
    profiles: ClassVar[frozenset[str]] = frozenset({"fast", "default", "thorough"})
    description: ClassVar[str] = (
        "Local noise level and noise-residual statistics; flags a region whose noise differs from the rest."
    )

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        h, w = image.shape
        if min(h, w) < MIN_SIDE:
            return self.evidence(
                skipped=f"image too small for noise analysis (needs at least {MIN_SIDE} px a side)",
                findings=[
                    Finding(
                        "The image is too small to compare noise between regions.", code="noise.too_small"
                    )
                ],
            )
        profile = context.profile
        g = np.asarray(image.gray, dtype=np.float32)
        res = analyze_noise(g, profile)
        rel_t = res["rel"]
        raw = res["map"]
        feats = region_features(res)
        score = score_from_features(feats, profile)
        gate = map_gate(score)
        m = grid_to_pixels(raw * gate, (h, w), TILE)
        rel = grid_to_pixels(rel_t, (h, w), TILE)
        findings: list[Finding] = []
        gs = float(res["global_sigma"])
        if gs < 0.3:
            msg = (
                "The finest-scale noise is almost absent (below 0.3 grey levels), as after strong JPEG compression,"
                " denoising or rendering; noise comparisons are less reliable."
            )
        else:
            msg = f"Estimated sensor/compression noise level is about {gs:.2f} grey levels."
        findings.append(Finding(msg, code="noise.level", data={"sigma": round(gs, 3)}))
        if float(rel_t.mean()) < 0.3:
            findings.append(
                Finding(
                    "Most of the image is too dark, saturated or flat for reliable noise analysis.",
                    code="noise.low_reliability",
                    data={"mean_reliability": round(float(rel_t.mean()), 3)},
                )
            )
        if score >= 0.5:
            sev = Severity.STRONG if score >= 0.85 else Severity.MODERATE
            findings.append(
                Finding(
                    f"A region covering about {100 * feats['area']:.0f}% of the image has noise that is inconsistent "
                    "with the rest of the picture, as happens when content from another source is pasted in.",
                    severity=sev,
                    supports=Supports.MANIPULATED,
                    code="noise.inconsistent_region",
                    data={"area_fraction": round(feats["area"], 4)},
                )
            )
        else:
            findings.append(
                Finding(
                    "Noise looks consistent across the image; no region stands out.",
                    code="noise.consistent",
                )
            )
        sig = res["sigma"]
        extra = {
            "profile": profile,
            "global_sigma": round(res["global_sigma"], 4),
            "sigma_p10_p90": [
                round(float(np.percentile(sig, 10)), 4),
                round(float(np.percentile(sig, 90)), 4),
            ],
            "region": {k: round(float(v), 4) for k, v in feats.items()},
            "map_gate": round(gate, 4),
            "raw_map_max": round(float(raw.max()), 4),
            "mean_reliability": round(float(rel_t.mean()), 4),
        }
        return self.evidence(score=score, map=m, reliability=rel, findings=findings, extra=extra)
