"""Geometry helpers for the copy-move detector: keypoint matching (g2NN), symmetric RANSAC for affine maps
between two copies of a region, and the decomposition of an affine map into readable parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class Candidate:
    """A candidate copy-move: ``A`` maps source-region coordinates to target-region coordinates (2x3)."""

    A: np.ndarray
    src_pts: np.ndarray  # (n, 2) matched points in the source region (working scale)
    dst_pts: np.ndarray  # (n, 2) corresponding points in the target region
    origin: str = "keypoints"  # "keypoints" | "blocks"
    flipped: bool = False
    extra: dict[str, float] = field(default_factory=dict)


def root_sift(desc: np.ndarray) -> np.ndarray:
    """RootSIFT: L1-normalise then square-root; Euclidean matching then approximates the Hellinger kernel."""
    d = desc.astype(np.float32)
    d /= np.abs(d).sum(axis=1, keepdims=True) + 1e-7
    return np.sqrt(d)


def g2nn_pairs(
    desc_a: np.ndarray,
    desc_b: np.ndarray,
    pts_a: np.ndarray,
    pts_b: np.ndarray,
    ratio: float,
    min_dist: float,
    k: int = 10,
    same_set: bool = True,
) -> np.ndarray:
    """Generalised 2-NN matching of ``desc_a`` against ``desc_b``.

    For each query, neighbours are accepted while d_m / d_{m+1} < ratio (several copies can match one
    keypoint). Pairs closer than ``min_dist`` pixels are dropped (a keypoint and its own neighbourhood).
    Returns an int array (m, 2) of (index in a, index in b); for ``same_set`` each unordered pair appears once.
    """
    n_a, n_b = len(desc_a), len(desc_b)
    if n_a < 2 or n_b < 3:
        return np.zeros((0, 2), dtype=np.int64)
    k = int(min(k, n_b))
    dist_all, idx_all = knn_l2(desc_a.astype(np.float32), desc_b.astype(np.float32), k)
    keep = idx_all != np.arange(n_a)[:, None] if same_set else np.ones(idx_all.shape, bool)
    # each row's kept neighbours moved to its front, in distance order (a stable sort of "not kept")
    order = np.argsort(~keep, axis=1, kind="stable")
    d_row, j_row = np.take_along_axis(dist_all, order, axis=1), np.take_along_axis(idx_all, order, axis=1)
    n_kept = keep.sum(axis=1)
    nxt = d_row[:, 1:]
    ok = (nxt <= 1e-9) | (d_row[:, :-1] < ratio * nxt)
    ok &= np.arange(ok.shape[1])[None, :] < (n_kept - 1)[:, None]  # only pairs of kept neighbours
    # neighbour m is accepted while every ratio test up to m passes: count of leading True per row
    n_ok = np.argmin(np.concatenate([ok, np.zeros((n_a, 1), bool)], axis=1), axis=1)
    take = np.arange(ok.shape[1] + 1)[None, :] < n_ok[:, None]
    if not take.any():
        return np.zeros((0, 2), dtype=np.int64)
    rows = np.broadcast_to(np.arange(n_a)[:, None], take.shape)
    pairs = np.stack([rows[take], j_row[take]], axis=1).astype(np.int64)
    dist = np.linalg.norm(pts_a[pairs[:, 0]] - pts_b[pairs[:, 1]], axis=1)
    pairs = pairs[dist >= min_dist]
    if same_set and len(pairs):
        pairs = np.sort(pairs, axis=1)
        pairs = np.unique(pairs, axis=0)
    return pairs


def knn_l2(a: np.ndarray, b: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours (Euclidean) of each row of ``a`` among rows of ``b``, sorted by distance.
    Brute force: faiss when available, else matrix products in chunks."""
    try:
        import faiss

        index = faiss.IndexFlatL2(b.shape[1])
        index.add(np.ascontiguousarray(b, dtype=np.float32))
        d2, ix = index.search(np.ascontiguousarray(a, dtype=np.float32), k)
        return np.sqrt(np.maximum(d2, 0.0)).astype(np.float32), ix.astype(np.int64)
    except ImportError:  # pragma: no cover - faiss is a declared dependency
        pass
    bb = (b * b).sum(axis=1)
    dists = np.empty((len(a), k), np.float32)
    idx = np.empty((len(a), k), np.int64)
    for s0 in range(0, len(a), chunk):
        blk = a[s0 : s0 + chunk]
        d2 = (blk * blk).sum(axis=1)[:, None] + bb[None, :] - 2.0 * (blk @ b.T)
        np.maximum(d2, 0.0, out=d2)
        part = (
            np.argpartition(d2, k - 1, axis=1)[:, :k]
            if k < d2.shape[1]
            else np.tile(np.arange(d2.shape[1]), (len(blk), 1))
        )
        pd = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(pd, axis=1)
        idx[s0 : s0 + chunk] = np.take_along_axis(part, order, axis=1)
        dists[s0 : s0 + chunk] = np.sqrt(np.take_along_axis(pd, order, axis=1))
    return dists, idx


def _affine_from_3(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched exact affine from 3 point pairs. p, q: (h, 3, 2). Returns (A (h,2,3), ok mask)."""
    h = p.shape[0]
    M = np.concatenate([p, np.ones((h, 3, 1))], axis=2)  # (h,3,3)
    det = np.linalg.det(M)
    ok = np.abs(det) > 1e-3
    A = np.zeros((h, 2, 3))
    if ok.any():
        sol = np.linalg.solve(M[ok], q[ok])  # (h',3,2): M @ X = q  -> X = [a b; c d; tx ty]
        A[ok] = np.transpose(sol, (0, 2, 1))
    return A, ok


def apply_affine(A: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ A[:, :2].T + A[:, 2]


def invert_affine(A: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(A.astype(np.float64))


def affine_is_sane(A: np.ndarray, min_shift: float) -> bool:
    L = A[:, :2]
    sv = np.linalg.svd(L, compute_uv=False)
    if sv.min() < 0.35 or sv.max() > 2.8 or sv.max() / max(sv.min(), 1e-9) > 2.0:
        return False
    return bool(np.linalg.norm(A[:, 2]) > 1e-6 or not np.allclose(L, np.eye(2), atol=0.05)) and min_shift >= 0


def sequential_ransac(
    P: np.ndarray,
    Q: np.ndarray,
    rng: np.random.Generator,
    thresh: float,
    min_inliers: int,
    min_shift: float,
    max_models: int = 6,
    n_hyp: int = 600,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Find up to ``max_models`` affine maps consistent with unordered pairs (P[i], Q[i]).

    A pair is an inlier when either orientation fits (A P ~ Q or A Q ~ P): which member of a pair is the source
    is not known. Samples are oriented consistently with the first sampled pair's offset direction.
    Returns a list of (A, src_pts, dst_pts) with inliers oriented source -> target.
    """
    P = P.astype(np.float64)
    Q = Q.astype(np.float64)
    remaining = np.arange(len(P))
    models: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    while len(remaining) >= max(3, min_inliers) and len(models) < max_models:
        p, q = P[remaining], Q[remaining]
        n = len(p)
        # Sample locally: the 2nd and 3rd pair are drawn near the first (copies are compact regions).
        first = rng.integers(0, n, size=n_hyp)
        d_p = np.linalg.norm(p[first][:, None, :] - p[None, :, :], axis=2)  # (h, n)
        d_q = np.linalg.norm(q[first][:, None, :] - q[None, :, :], axis=2)
        d_x = np.linalg.norm(p[first][:, None, :] - q[None, :, :], axis=2)
        d_loc = np.minimum(np.minimum(d_p, d_q), d_x)
        kk = min(n, 40)
        near = np.argpartition(d_loc, kk - 1, axis=1)[:, :kk]
        pick = rng.integers(0, kk, size=(n_hyp, 2))
        idx = np.stack(
            [first, near[np.arange(n_hyp), pick[:, 0]], near[np.arange(n_hyp), pick[:, 1]]], axis=1
        )
        sp, sq = p[idx].copy(), q[idx].copy()  # (h,3,2)
        # orient by the first pair's offset
        off0 = sq[:, 0] - sp[:, 0]
        for c in (1, 2):
            mid0 = 0.5 * (sp[:, 0] + sq[:, 0])
            a_near = np.linalg.norm(sp[:, c] - sp[:, 0], axis=1) + np.linalg.norm(sq[:, c] - sq[:, 0], axis=1)
            b_near = np.linalg.norm(sq[:, c] - sp[:, 0], axis=1) + np.linalg.norm(sp[:, c] - sq[:, 0], axis=1)
            off = sq[:, c] - sp[:, c]
            flip = (b_near < a_near) | ((np.abs(b_near - a_near) < 1e-6) & ((off * off0).sum(1) < 0))
            del mid0
            tmp = sp[flip, c].copy()
            sp[flip, c] = sq[flip, c]
            sq[flip, c] = tmp
        A, ok = _affine_from_3(sp, sq)
        if not ok.any():
            break
        A = A[ok]
        # residuals, both orientations
        fp = np.einsum("hij,nj->hni", A[:, :, :2], p) + A[:, None, :, 2]
        fq = np.einsum("hij,nj->hni", A[:, :, :2], q) + A[:, None, :, 2]
        r_fwd = np.linalg.norm(fp - q[None], axis=2)
        r_bwd = np.linalg.norm(fq - p[None], axis=2)
        inl = (r_fwd < thresh) | (r_bwd < thresh)
        counts = inl.sum(axis=1)
        # penalise degenerate maps
        sv = np.linalg.svd(A[:, :, :2], compute_uv=False)
        bad = (sv[:, 1] < 0.35) | (sv[:, 0] > 2.8) | (sv[:, 0] / np.maximum(sv[:, 1], 1e-9) > 2.0)
        counts[bad] = 0
        best = int(np.argmax(counts))
        if counts[best] < min_inliers:
            break
        Ab = A[best]
        fwd = r_fwd[best] < thresh
        bwd = (r_bwd[best] < thresh) & ~fwd
        src = np.concatenate([p[fwd], q[bwd]])
        dst = np.concatenate([q[fwd], p[bwd]])
        # refine with least squares, then re-collect inliers
        for _ in range(2):
            if len(src) < 3:
                break
            A_ls, _ = cv2.estimateAffine2D(src, dst, method=cv2.LMEDS) if len(src) >= 3 else (None, None)
            if A_ls is None:
                break
            Ab = A_ls
            r1 = np.linalg.norm(apply_affine(Ab, p) - q, axis=1)
            r2 = np.linalg.norm(apply_affine(Ab, q) - p, axis=1)
            fwd = r1 < thresh
            bwd = (r2 < thresh) & ~fwd
            src = np.concatenate([p[fwd], q[bwd]])
            dst = np.concatenate([q[fwd], p[bwd]])
        used = fwd | bwd
        if used.sum() >= min_inliers:
            shift = np.median(np.linalg.norm(dst - src, axis=1)) if len(src) else 0.0
            if shift >= min_shift:
                models.append((Ab, src, dst))
        if not used.any():
            break
        remaining = remaining[~used]
    return models


def describe_affine(A: np.ndarray, flipped: bool, scale_to_full: float) -> dict[str, float | bool]:
    """Translation (pixels of the full image), rotation (degrees, counter-clockwise in image view),
    scale and flip of a source->target affine map estimated at working scale."""
    L = A[:, :2].astype(np.float64)
    det = float(np.linalg.det(L))
    is_flip = det < 0
    if is_flip:
        L = L @ np.diag([-1.0, 1.0])
    sx = math.hypot(L[0, 0], L[1, 0])
    sy = math.hypot(L[0, 1], L[1, 1])
    # image coordinates have y down: a positive angle of atan2(L[1,0], L[0,0]) is clockwise on screen
    rot = -math.degrees(math.atan2(L[1, 0], L[0, 0]))
    return {
        "tx": float(A[0, 2] * scale_to_full),
        "ty": float(A[1, 2] * scale_to_full),
        "rotation_deg": float(rot),
        "scale": float(math.sqrt(max(sx * sy, 1e-12))),
        "flip": bool(is_flip or flipped),
    }
