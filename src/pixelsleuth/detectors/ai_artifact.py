"""Low-level artifact detector for AI-generated images (no third-party weights).

Generators synthesise pixels through learned up-sampling and decoding layers that leave statistical traces which
camera pipelines do not: periodic correlations in the high-pass residual, peaks and slopes in its spectrum,
different noise in texture-rich vs texture-poor regions, and different relations between colour channels.
We measure ~70 such handcrafted statistics per 224x224 native-resolution tile and score them with a small
model we trained (``pixelsleuth/models/trained/ai_artifact.json``, see benchmarks/ai_train.py), calibrated so
that 0.5 is the decision threshold at equal priors. The map paints per-tile scores.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import scipy.fft as sfft

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData
from pixelsleuth.models.ai_common import (
    TILE,
    LinearModel,
    normalise_size,
    pad_to_tile,
    tile_grid,
    tiles_to_map,
)

MODEL_FILE = "ai_artifact.json"
# tiles per axis of the size-normalised image (the score is the mean tile logit): the fast profile reads a 2 x 2
# grid, which still covers a 448-512 px image, instead of the overlapping 3 x 3 grid
TILES_PER_AXIS = {"fast": 2, "default": 3, "thorough": 3}
_LAP = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], np.float32) / 4.0
_MODEL: LinearModel | None = None


def _luma(rgb: np.ndarray) -> np.ndarray:
    f = rgb.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _autocorr(r: np.ndarray, lags: range) -> list[float]:
    v = float((r * r).mean()) + 1e-6
    out = []
    for k in lags:
        out.append(float((r[:, :-k] * r[:, k:]).mean()) / v)
        out.append(float((r[:-k, :] * r[k:, :]).mean()) / v)
    return out


@lru_cache(maxsize=8)
def _spectrum_grid(h: int, w: int, nbins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    rad = np.hypot((yy - h // 2) / (h / 2), (xx - w // 2) / (w / 2))
    idx = np.minimum((rad / np.sqrt(2) * nbins).astype(int), nbins - 1).ravel()
    cnts = np.bincount(idx, minlength=nbins)
    return win, idx, cnts


@lru_cache(maxsize=8)
def _peak_windows(n: int) -> tuple[tuple[int, np.ndarray], ...]:
    """Per (period, harmonic) of the 1-D peak test: the frequency bin and the indices of its neighbours."""
    out = []
    for period in (2, 4, 8):
        for m in range(1, period // 2 + 1):
            f = int(round(m * n / period))
            if f >= n // 2 + 1:
                out.append((period, -1, np.zeros(0, int)))
                continue
            lo, hi = max(1, f - 4), min(n // 2, f + 5)
            neigh = np.r_[lo:f, f + 1 : hi] if hi > f + 1 else np.r_[lo:f]
            out.append((period, f, neigh))
    return tuple((p, (f, nb)) for p, f, nb in out)


def _radial_spectrum(r: np.ndarray, nbins: int = 12) -> tuple[list[float], list[float]]:
    h, w = r.shape
    win, idx, cnts = _spectrum_grid(h, w, nbins)
    p = np.abs(np.fft.fftshift(sfft.fft2(r * win))) ** 2 + 1e-6  # float32 input: single-precision FFT
    lp = np.log(p)
    sums = np.bincount(idx, weights=lp.ravel(), minlength=nbins)
    prof = sums / np.maximum(cnts, 1)
    prof = prof - prof.mean()
    # periodic peaks (periods 2, 4, 8) in the row/column-averaged 1-D spectra of the residual
    # (the mean power of the 1-D FFTs along one axis is, by Parseval, a marginal of the 2-D power spectrum)
    p2 = (np.abs(sfft.fft2(r)) ** 2).astype(np.float64)
    marginals = (p2.sum(axis=0) / (h * h), p2.sum(axis=1) / (w * w))
    peaks = []
    for axis in (0, 1):
        s = marginals[axis] + 1e-6
        ls = np.log(s)
        best: dict[int, float] = {}
        for period, (f, neigh) in _peak_windows(s.size):
            if f < 0:
                continue
            v = ls[f] - float(np.median(ls[neigh]))
            best[period] = max(best.get(period, -np.inf), v)
        peaks += [best.get(period, 0.0) for period in (2, 4, 8)]
    pk = np.asarray(peaks).reshape(2, 3)
    return prof.tolist(), (pk.mean(axis=0).tolist() + pk.max(axis=0).tolist())


def _cooc(y: np.ndarray, t: int = 2) -> list[float]:
    out = np.zeros(((2 * t + 1) ** 2,), np.float64)
    for d in (np.diff(y, axis=1), np.diff(y, axis=0).T):
        q = np.clip(np.round(d), -t, t).astype(np.int32) + t
        pairs = q[:, :-1] * (2 * t + 1) + q[:, 1:]
        out += np.bincount(pairs.ravel(), minlength=out.size)
    out /= out.sum()
    return np.log(out + 1e-4).tolist()


def _phase_spread(r: np.ndarray) -> list[float]:
    e = r * r
    out = []
    for period in (2, 4):
        for axis in (0, 1):
            v = [
                float(np.take(e, np.arange(p, e.shape[axis], period), axis=axis).mean()) + 1e-6
                for p in range(period)
            ]
            lv = np.log(v)
            out.append(float(lv.max() - lv.min()))
    return out


def _rich_poor(y: np.ndarray, r: np.ndarray, patch: int = 32) -> list[float]:
    """Residual statistics of the most vs. the least textured third of the non-overlapping patches."""
    h, w = y.shape
    gy, gx = np.abs(np.diff(y, axis=0))[:, :-1], np.abs(np.diff(y, axis=1))[:-1, :]
    g = gx + gy
    ny, nx = (h - patch) // patch + 1, (w - patch) // patch + 1
    if ny <= 0 or nx <= 0:
        return [0.0] * 6

    def blocks(a: np.ndarray, ph: int, pw: int) -> np.ndarray:
        # patch (i, j) covers a[i*patch : i*patch+ph, j*patch : j*patch+pw], cut short at the array's edge (the
        # residual is 4 px smaller than the luma, so its last row/column of patches is truncated); zero-padded
        full = np.zeros((ny * patch, nx * patch), np.float64)
        hh, ww = min(a.shape[0], ny * patch), min(a.shape[1], nx * patch)
        full[:hh, :ww] = a[:hh, :ww]
        return (
            full.reshape(ny, patch, nx, patch).transpose(0, 2, 1, 3)[:, :, :ph, :pw].reshape(ny * nx, ph, pw)
        )

    gm = blocks(g, patch - 1, patch - 1).mean(axis=(1, 2))
    rp = blocks(r, patch, patch)
    mk = blocks(np.ones(r.shape), patch, patch)
    n = mk.sum(axis=(1, 2))
    v = (rp * rp).sum(axis=(1, 2)) / n + 1e-6
    ac = (rp[:, :, :-1] * rp[:, :, 1:]).sum(axis=(1, 2)) / (mk[:, :, :-1] * mk[:, :, 1:]).sum(axis=(1, 2)) / v
    small = ((np.abs(rp) < 0.5) * mk).sum(axis=(1, 2)) / n
    a = np.stack([gm, np.log(v), ac, small], axis=1)[np.argsort(gm, kind="stable")]
    k = max(1, len(a) // 3)
    poor, rich = a[:k, 1:].mean(axis=0), a[-k:, 1:].mean(axis=0)
    return (rich - poor).tolist() + poor.tolist()


def artifact_features(tile: np.ndarray) -> np.ndarray:
    """Handcrafted statistics of one uint8 RGB tile (TILE x TILE x 3). Returns float64 vector."""
    rgb = tile.astype(np.float32)
    y = _luma(tile)
    r = cv2.filter2D(y, -1, _LAP, borderType=cv2.BORDER_REFLECT)[2:-2, 2:-2]
    feats: list[float] = []
    feats += _autocorr(r, range(1, 7))
    prof, peaks = _radial_spectrum(r)
    feats += prof + peaks
    chans = [
        cv2.filter2D(rgb[..., c], -1, _LAP, borderType=cv2.BORDER_REFLECT)[2:-2, 2:-2].ravel()
        for c in range(3)
    ]
    sd = [float(c.std()) + 1e-6 for c in chans]
    for i, j in ((0, 1), (1, 2), (0, 2)):
        feats.append(
            float(np.mean((chans[i] - chans[i].mean()) * (chans[j] - chans[j].mean()))) / (sd[i] * sd[j])
        )
    feats.append(float(np.log(np.std(chans[0] - chans[1]) + 1e-3) - np.log(sd[1])))
    rs = float(r.std()) + 1e-6
    feats += [float(np.log(rs)), float(min(20.0, ((r / rs) ** 4).mean())), float((np.abs(r) < 0.5).mean())]
    feats += _cooc(y)
    feats += _rich_poor(y, r)
    feats += _phase_spread(r)
    return np.asarray(feats, np.float64)


def image_tiles(
    rgb: np.ndarray, max_per_axis: int = 3
) -> tuple[list[np.ndarray], list[tuple[int, int]], float, bool]:
    """Size-normalise, pad if small, and cut evenly spread tiles. Returns (tiles, corners, scale, padded)."""
    norm, scale = normalise_size(rgb)
    padded = min(norm.shape[:2]) < TILE
    norm = pad_to_tile(norm)
    corners = tile_grid(norm.shape[0], norm.shape[1], max_per_axis)
    return [norm[y : y + TILE, x : x + TILE] for y, x in corners], corners, scale, padded


def load_model() -> LinearModel:
    global _MODEL
    if _MODEL is None:
        from pixelsleuth.models.registry import trained_path

        _MODEL = LinearModel.load(trained_path(MODEL_FILE))
    return _MODEL


@register
class AIArtifact(Detector):
    name = "ai_artifact"
    version = "1"
    family = Family.AI_GENERATED
    requires = frozenset({"rgb"})
    profiles = frozenset({"fast", "default", "thorough"})
    description = (
        "Up-sampling, spectral and texture-contrast traces of image generators, scored by our small model."
    )

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        model = load_model()
        per_axis = int(context.opt(self.name, "tiles_per_axis", TILES_PER_AXIS.get(context.profile, 3)))
        tiles, corners, scale, padded = image_tiles(image.rgb, max_per_axis=max(1, per_axis))
        feats = np.stack([artifact_features(t) for t in tiles])
        logits = model.logit(feats)
        per_tile = model.proba(feats)
        mean_logit = float(logits.mean())
        score = _platt(model, mean_logit)
        if padded:
            score = 0.5 + (score - 0.5) * 0.5  # tiny inputs: halve the confidence
        m = tiles_to_map(image.shape, scale, corners, per_tile.tolist())
        findings = []
        if score >= 0.5:
            sev = Severity.MODERATE if score >= 0.8 else Severity.WEAK
            findings.append(
                Finding(
                    f"Low-level pixel statistics (residual correlations, spectrum, texture contrast) resemble "
                    f"generated images (score {score:.2f}).",
                    severity=sev,
                    supports=Supports.AI_GENERATED,
                    data={"tiles": len(tiles), "score": round(score, 4)},
                    code="ai_artifact.generator_traces",
                )
            )
        else:
            findings.append(
                Finding(
                    f"Low-level pixel statistics look like a camera image rather than a generator (score {score:.2f}).",
                    data={"tiles": len(tiles), "score": round(score, 4)},
                    code="ai_artifact.no_traces",
                )
            )
        rel = np.full(image.shape, 0.5 if padded else 1.0, np.float32)
        return self.evidence(
            score=score,
            map=m,
            reliability=rel,
            findings=findings,
            extra={
                "logit": mean_logit,
                "tile_scores": [round(float(v), 4) for v in per_tile],
                "small": padded,
            },
        )


def _platt(model: LinearModel, logit: float) -> float:
    from pixelsleuth.models.ai_common import calibrated

    return float(calibrated(np.asarray([logit]), model.platt_a, model.platt_b)[0])
