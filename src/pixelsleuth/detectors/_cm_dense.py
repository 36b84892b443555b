"""Dense parts of the copy-move detector: block matching for candidate translations (regions without
keypoints) and the warp-and-compare verification that turns a candidate affine map into a pixel mask."""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage as ndi

from pixelsleuth.detectors._cm_geometry import apply_affine, invert_affine


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill enclosed holes of a boolean mask (flood fill of the background from the border)."""
    h, w = mask.shape
    pad = np.zeros((h + 2, w + 2), np.uint8)
    pad[1:-1, 1:-1] = mask.astype(np.uint8)
    ff_mask = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(pad, ff_mask, (0, 0), 2)
    return pad[1:-1, 1:-1] != 2


def local_zncc(a: np.ndarray, b: np.ndarray, win: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-mean normalised cross-correlation of ``a`` and ``b`` in a ``win`` x ``win`` window, and the
    smaller of the two local standard deviations (to tell textured from flat windows)."""
    k = (win, win)
    ma = cv2.blur(a, k)
    mb = cv2.blur(b, k)
    va = np.maximum(cv2.blur(a * a, k) - ma * ma, 0.0)
    vb = np.maximum(cv2.blur(b * b, k) - mb * mb, 0.0)
    cov = cv2.blur(a * b, k) - ma * mb
    corr = cov / (np.sqrt(va * vb) + 1e-3)
    return corr.astype(np.float32), np.sqrt(np.minimum(va, vb)).astype(np.float32)


def verify_affine(
    gray: np.ndarray,
    A: np.ndarray,
    seeds_src: np.ndarray,
    seeds_dst: np.ndarray,
    min_shift: float,
    win: int = 7,
    tau: float = 0.8,
    min_std: float = 1.5,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Warp the image by the candidate map both ways, correlate locally, and return
    (target mask, source mask, mean correlation inside the regions, fraction of textured region pixels whose
    correlation exceeds 0.95) at working scale.

    Only connected components that contain (or touch) a seed point are kept, so unrelated look-alike areas that
    happen to correlate under the same map are not marked.
    """
    h, w = gray.shape
    Ainv = invert_affine(A)
    masks: list[np.ndarray] = []
    corr_vals: list[np.ndarray] = []
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for M, seeds in ((A, seeds_dst), (Ainv, seeds_src)):
        warped = cv2.warpAffine(gray, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        valid = cv2.warpAffine(np.ones_like(gray), M, (w, h), flags=cv2.INTER_NEAREST) > 0.5
        corr, sd = local_zncc(gray, warped, win)
        # a pixel and the pixel it is compared with must be apart (no self-match near the map's fixed point)
        Mi = invert_affine(M)
        back_x = Mi[0, 0] * xx + Mi[0, 1] * yy + Mi[0, 2]
        back_y = Mi[1, 0] * xx + Mi[1, 1] * yy + Mi[1, 2]
        far = np.hypot(back_x - xx, back_y - yy) >= min_shift
        good = (corr > tau) & (sd > min_std) & valid & far
        good = cv2.morphologyEx(good.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        r = max(3, int(round(win * 0.8)))
        ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        closed = cv2.morphologyEx(good, cv2.MORPH_CLOSE, ker)
        closed = fill_holes(closed > 0) & valid
        lab, n = ndi.label(closed)
        keep = np.zeros(n + 1, dtype=bool)
        if n and len(seeds):
            s = np.round(seeds).astype(int)
            s[:, 0] = np.clip(s[:, 0], 0, w - 1)
            s[:, 1] = np.clip(s[:, 1], 0, h - 1)
            # a seed may fall just outside a component: look in a small neighbourhood
            lab_d = ndi.grey_dilation(lab, size=(5, 5))
            keep[np.unique(lab_d[s[:, 1], s[:, 0]])] = True
            keep[0] = False
        m = keep[lab]
        # dilate slightly: the correlation window shrinks regions at their border
        m = cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        masks.append(m)
        corr_vals.append(corr[m & (sd > min_std)])
    vals = np.concatenate(corr_vals) if corr_vals else np.zeros(0)
    mean_corr = float(vals.mean()) if len(vals) else 0.0
    frac_high = float((vals > 0.95).mean()) if len(vals) else 0.0
    return masks[0], masks[1], mean_corr, frac_high


def residual_correlation(gray: np.ndarray, A: np.ndarray, target: np.ndarray) -> float:
    """Pooled correlation of fine high-pass residuals (noise and fine texture) between the target region and
    the warped source. A real copy carries its source's noise; a similar-looking genuine object does not."""
    if target.sum() < 20:
        return 0.0
    res = gray - cv2.GaussianBlur(gray, (0, 0), 1.0)
    h, w = gray.shape
    warped = cv2.warpAffine(res, A, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    a = res[target].astype(np.float64)
    b = warped[target].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum())) + 1e-9
    return float((a * b).sum() / den)


def refine_ecc(gray: np.ndarray, A: np.ndarray, src_pts: np.ndarray, pad: int = 12) -> np.ndarray:
    """Refine a source->target affine map by maximising the correlation (ECC) of the source region's
    bounding box with the image warped back; returns ``A`` unchanged when ECC does not converge."""
    h, w = gray.shape
    x0, y0 = np.floor(src_pts.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(src_pts.max(axis=0)).astype(int) + pad
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x1), min(h, y1)
    if x1 - x0 < 16 or y1 - y0 < 16:
        return A
    tmpl = np.ascontiguousarray(gray[y0:y1, x0:x1], dtype=np.float32)
    W = np.asarray(A, np.float64) @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    W = W.astype(np.float32)
    try:
        crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 25, 1e-3)
        _, W = cv2.findTransformECC(tmpl, np.asarray(gray, np.float32), W, cv2.MOTION_AFFINE, crit, None, 3)
    except cv2.error:
        return A
    W64 = np.vstack([W.astype(np.float64), [0, 0, 1]]) @ np.array(
        [[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64
    )
    A2 = W64[:2]
    # reject a refinement that drifted far from the keypoint estimate
    if np.abs(apply_affine(A2, src_pts) - apply_affine(A, src_pts)).max() > 6:
        return A
    return A2


def block_translation_candidates(
    gray: np.ndarray,
    min_shift: float,
    block: int = 8,
    stride: int = 4,
    min_votes: int = 12,
    max_candidates: int = 4,
    min_std: float = 2.0,
    tol_rel: float = 0.05,
    tol_abs: float = 2.0,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Translation candidates from dense block matching (for copies with too few keypoints).

    Each block (stride ``stride``) is described by its 2-D DCT low-frequency coefficients; blocks are sorted
    lexicographically by their quantised features and each is compared with its next neighbours in that order;
    near-identical pairs farther apart than ``min_shift`` vote for their offset; offsets with enough votes
    (quantised to the stride) become candidates. Returns [(A, src_pts, dst_pts)].
    """
    h, w = gray.shape
    if h < 4 * block or w < 4 * block:
        return []
    g = gray.astype(np.float32)
    ys = np.arange(0, h - block + 1, stride)
    xs = np.arange(0, w - block + 1, stride)
    # low-frequency DCT features via separable basis products
    n = block
    k = np.arange(n)
    basis = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)).astype(np.float32)  # (u, x)
    basis[0] /= np.sqrt(2.0)
    freqs = [(u, v) for u in range(4) for v in range(4) if u + v <= 3]
    win = np.lib.stride_tricks.sliding_window_view(g, (block, block))[::stride, ::stride]  # (ny, nx, b, b)
    ny, nx = win.shape[:2]
    blocks = win.reshape(ny * nx, block, block)
    std = blocks.std(axis=(1, 2))
    feats = np.stack([np.einsum("nij,i,j->n", blocks, basis[u], basis[v]) for u, v in freqs], axis=1)
    feats /= n
    keep = std > min_std
    if keep.sum() < 2 * min_votes:
        return []
    pos = np.stack(np.meshgrid(xs[:nx], ys[:ny]), axis=-1).reshape(-1, 2).astype(np.float32)
    f = feats[keep]
    p = pos[keep]
    # lexicographic sort of quantised features puts near-identical blocks next to each other (O(n log n));
    # each block is compared with the next few in that order
    tol = tol_rel * np.linalg.norm(f, axis=1) + tol_abs
    qf = np.round(f / max(2.0 * tol_abs, 1e-3)).astype(np.int64)
    order = np.lexsort(qf.T[::-1])
    src_l: list[np.ndarray] = []
    dst_l: list[np.ndarray] = []
    for r in (1, 2, 3):
        i, j = order[:-r], order[r:]
        d = np.linalg.norm(f[i] - f[j], axis=1)
        far = np.linalg.norm(p[j] - p[i], axis=1) >= min_shift
        ok = (d < tol[i]) & far
        src_l.append(i[ok])
        dst_l.append(j[ok])
    src_i = np.concatenate(src_l)
    dst_i = np.concatenate(dst_l)
    if len(src_i) < min_votes:
        return []
    offs = p[dst_i] - p[src_i]
    # canonical direction: offsets and their negatives are the same copy
    neg = (offs[:, 0] < 0) | ((offs[:, 0] == 0) & (offs[:, 1] < 0))
    offs[neg] *= -1
    s_pts = np.where(neg[:, None], p[dst_i], p[src_i])
    q = np.round(offs / stride).astype(np.int64)
    keys, inv, counts = np.unique(q, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for ci in np.argsort(-counts)[: max_candidates * 3]:
        # merge the neighbouring offset bins (the true offset may straddle two bins)
        near = np.abs(keys - keys[ci]).max(axis=1) <= 1
        members = np.isin(inv, np.nonzero(near)[0])
        if members.sum() < min_votes:
            continue
        o = np.median(offs[members], axis=0)
        if any(np.abs(o - np.median(c[2] - c[1], axis=0)).max() <= stride for c in out):
            continue
        A = np.array([[1.0, 0.0, o[0]], [0.0, 1.0, o[1]]])
        src = s_pts[members] + block / 2
        dst = src + o
        out.append((A, src, dst))
        if len(out) >= max_candidates:
            break
    return out


def refine_translation(gray: np.ndarray, A: np.ndarray, src: np.ndarray, radius: int = 2) -> np.ndarray:
    """Refine a translation candidate to the integer offset (within ``radius``) of best block agreement."""
    h, w = gray.shape
    best, best_err = A, np.inf
    pts = np.round(src).astype(int)
    pts = pts[(pts[:, 0] >= 4) & (pts[:, 1] >= 4) & (pts[:, 0] < w - 4) & (pts[:, 1] < h - 4)][:200]
    if len(pts) == 0:
        return A
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            A2 = A.copy()
            A2[0, 2] = round(A[0, 2]) + dx
            A2[1, 2] = round(A[1, 2]) + dy
            d = np.round(apply_affine(A2, pts.astype(np.float64))).astype(int)
            inside = (d[:, 0] >= 4) & (d[:, 1] >= 4) & (d[:, 0] < w - 4) & (d[:, 1] < h - 4)
            if inside.sum() < 3:
                continue
            err = 0.0
            for (x, y), (u, v) in zip(pts[inside], d[inside], strict=True):
                err += float(
                    np.abs(gray[y - 3 : y + 4, x - 3 : x + 4] - gray[v - 3 : v + 4, u - 3 : u + 4]).mean()
                )
            err /= inside.sum()
            if err < best_err:
                best, best_err = A2, err
    return best
