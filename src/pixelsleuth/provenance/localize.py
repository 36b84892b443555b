"""Aligned comparison of a query with a matched reference: where do they differ?

Given the homography that maps reference pixels onto query pixels, the reference is warped into the query frame,
its colours are matched to the query's (global gain/offset per channel, so re-toning and JPEG do not light up), and
the per-pixel difference is measured with a small spatial tolerance (the query pixel is compared with the range
of reference values in a 5 x 5 neighbourhood, which absorbs sub-pixel misregistration and resampling). The result is
a float32 map in [0, 1] at the query's size: 0 = same as the reference, 1 = clearly changed; outside the matched
polygon the map is 0 and ``valid`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_MAX_SIDE = 768


@dataclass
class Difference:
    map: np.ndarray  # float32 H x W in [0, 1], query coordinates
    valid: np.ndarray  # bool H x W: inside the matched (overlapping) area
    changed_fraction: float  # of the valid area, map > 0.5
    polygon_query: list[list[float]]
    polygon_ref: list[list[float]]
    homography: np.ndarray  # refined, reference -> query (reference coordinates as given)


def _scale(s: float) -> np.ndarray:
    return np.diag([s, s, 1.0])


def project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = cv2.perspectiveTransform(np.asarray(pts, np.float64).reshape(-1, 1, 2), h)
    return p.reshape(-1, 2)


def polygons(
    h: np.ndarray, ref_size: tuple[int, int], query_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The overlap polygon (reference outline clipped to the query frame) in query and in reference coordinates."""
    rh, rw = ref_size
    qh, qw = query_size
    ref_box = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], np.float32)
    q_box = np.array([[0, 0], [qw, 0], [qw, qh], [0, qh]], np.float32)
    proj = project(h, ref_box).astype(np.float32)
    if cv2.contourArea(proj) < 0:  # orientation-reversing homography (mirror): make it CCW for clipping
        proj = proj[::-1].copy()
    area, inter = cv2.intersectConvexConvex(np.ascontiguousarray(proj), q_box)
    if inter is None or area <= 1.0:
        return np.zeros((0, 2)), np.zeros((0, 2))
    pq = inter.reshape(-1, 2).astype(np.float64)
    pr = project(np.linalg.inv(h), pq)
    return pq, pr


def _refine(q_gray: np.ndarray, r_gray: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Refine a homography (reference -> query, working coordinates) with ECC on blurred images."""
    try:
        warp = np.linalg.inv(h).astype(np.float32)  # ECC wants template(query) -> input(reference) mapping
        warp /= warp[2, 2]
        crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-5)
        _, warp = cv2.findTransformECC(q_gray, r_gray, warp, cv2.MOTION_HOMOGRAPHY, crit, None, 5)
        hr = np.linalg.inv(warp.astype(np.float64))
        # accept only a modest correction
        pts = np.array(
            [[0, 0], [q_gray.shape[1], 0], [q_gray.shape[1], q_gray.shape[0]], [0, q_gray.shape[0]]], float
        )
        a = project(np.linalg.inv(h), pts)
        b = project(np.linalg.inv(hr), pts)
        if np.max(np.abs(a - b)) < 0.03 * max(q_gray.shape):
            return hr / hr[2, 2]
    except cv2.error:
        pass
    return h


TOL = 3  # spatial tolerance window (pixels, working resolution)
T_FLOOR = 4.0  # minimum difference (8-bit levels) that can count as a change
K_NOISE = 3.5  # ... or this many robust noise deviations, whichever is larger
BLUR = 1.0  # Gaussian sigma applied to both images before comparing (JPEG/resampling noise)
EDGE_ALPHA = 0.0  # error discount on strong reference edges: e / (1 + EDGE_ALPHA * |gradient|)
MIN_AREA_FRAC = 0.001  # changed blobs smaller than this fraction of the matched area are dropped
CLOSE_FRAC = 0.03  # region completion: closing radius as a fraction of the working image diagonal


def _complete_regions(binary: np.ndarray, valid: np.ndarray, radius: int) -> np.ndarray:
    """Close gaps between nearby changed pixels and fill enclosed holes: an edited object differs mostly at its
    edges and textures, its flat interior is what the comparison cannot see."""
    if radius < 1 or not binary.any():
        return binary
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    closed = cv2.morphologyEx(binary.astype(np.uint8), cv2.MORPH_CLOSE, k) > 0
    # fill holes: background reachable from the border stays, the rest is inside a changed region
    pad = np.pad(~closed, 1, constant_values=True).astype(np.uint8)
    ff = pad.copy()
    mask = np.zeros((ff.shape[0] + 2, ff.shape[1] + 2), np.uint8)
    cv2.floodFill(ff, mask, (0, 0), 2)
    holes = ff[1:-1, 1:-1] == 1
    return (closed | holes) & valid


def difference_map(query: np.ndarray, ref: np.ndarray, h: np.ndarray, refine: bool = True) -> Difference:
    """``h`` maps ``ref`` pixel coordinates to ``query`` pixel coordinates (both uint8 RGB arrays)."""
    qh, qw = query.shape[:2]
    s = min(1.0, WORK_MAX_SIDE / max(qh, qw))
    wq = (
        cv2.resize(query, (max(1, round(qw * s)), max(1, round(qh * s))), interpolation=cv2.INTER_AREA)
        if s < 1
        else query
    )
    hw_, ww_ = wq.shape[:2]
    hs = _scale(s) @ h  # ref -> working query
    rh, rw = ref.shape[:2]
    # pre-shrink the reference when it would be strongly downsampled by the warp (avoid aliasing)
    det = abs(np.linalg.det(hs[:2, :2]))
    rs = 1.0
    if det < 0.9:
        rs = float(np.clip(np.sqrt(det), 0.02, 1.0))
        ref = cv2.resize(ref, (max(1, round(rw * rs)), max(1, round(rh * rs))), interpolation=cv2.INTER_AREA)
        hs = hs @ _scale(1.0 / rs)
    wqf = wq.astype(np.float32)
    reff = ref.astype(np.float32)
    if refine:
        qg = cv2.GaussianBlur(cv2.cvtColor(wq, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.5)
        rg = cv2.GaussianBlur(
            cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY).astype(np.float32),
            (0, 0),
            1.5 / max(1e-3, np.sqrt(det)) if det < 1 else 1.5,
        )
        hs = _refine(qg, rg, hs)
    warped = cv2.warpPerspective(reff, hs, (ww_, hw_), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    ones = cv2.warpPerspective(np.ones(ref.shape[:2], np.float32), hs, (ww_, hw_), flags=cv2.INTER_LINEAR)
    valid = cv2.erode((ones > 0.999).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    out = np.zeros((qh, qw), np.float32)
    h_full = _scale(1.0 / s) @ hs @ _scale(rs)  # back to the caller's coordinates
    pq, pr = polygons(h_full, (rh, rw), (qh, qw))
    if valid.sum() < 64:
        return Difference(out, np.zeros((qh, qw), bool), 0.0, pq.tolist(), pr.tolist(), h_full)
    # colour matching on the valid area (query may be grey-scaled or re-toned): per channel gain/offset
    qv, wv = wqf[valid], warped[valid]
    chroma_q = np.abs(qv - qv.mean(1, keepdims=True)).mean()
    if chroma_q < 2.0:  # grayscale query: compare luminance only
        wqf = np.repeat(wqf.mean(2, keepdims=True), 3, axis=2)
        warped = np.repeat(warped.mean(2, keepdims=True), 3, axis=2)
        qv, wv = wqf[valid], warped[valid]
    matched = np.empty_like(warped)
    for c in range(3):
        # gain/offset by least squares, refitted without the 15 % worst-fitting pixels, so an edited region does
        # not skew the colour matching of everything else
        x, y = wv[:, c].astype(np.float64), qv[:, c].astype(np.float64)
        keep = np.ones(x.size, bool)
        gain, off = 1.0, 0.0
        for _ in range(2):
            xs, ys = x[keep], y[keep]
            var = float(xs.var())
            gain = (
                float(np.clip(((xs - xs.mean()) * (ys - ys.mean())).mean() / var, 0.2, 5.0))
                if var > 1e-3
                else 1.0
            )
            off = float(ys.mean() - gain * xs.mean())
            r = np.abs(y - (gain * x + off))
            keep = r <= np.percentile(r, 85)
        matched[..., c] = warped[..., c] * gain + off
    qb = cv2.GaussianBlur(wqf, (0, 0), BLUR)
    mb = cv2.GaussianBlur(matched, (0, 0), BLUR)
    k = np.ones((TOL, TOL), np.uint8)
    e = np.maximum(0.0, np.maximum(qb - cv2.dilate(mb, k), cv2.erode(mb, k) - qb)).max(axis=2)
    if EDGE_ALPHA > 0:
        g = mb.mean(axis=2)
        grad = cv2.dilate(
            np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)), k
        )
        e = e / (1.0 + EDGE_ALPHA * grad / 8.0)
    e[~valid] = 0.0
    e = cv2.GaussianBlur(e, (0, 0), 2.0)
    ev = e[valid]
    noise = float(np.median(ev) + 1.4826 * np.median(np.abs(ev - np.median(ev))))
    t_lo = max(T_FLOOR, K_NOISE * noise)
    t_hi = 2.0 * t_lo
    m = np.clip((e - t_lo) / (t_hi - t_lo), 0.0, 1.0).astype(np.float32)
    # drop specks smaller than 0.1 % of the valid area
    n, lab, st, _ = cv2.connectedComponentsWithStats((m > 0.5).astype(np.uint8), connectivity=8)
    min_area = max(16, int(MIN_AREA_FRAC * valid.sum()))
    small = np.zeros(n, bool)
    small[1:] = st[1:, cv2.CC_STAT_AREA] < min_area
    keep_mask = cv2.dilate((~small[lab] & (lab > 0)).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    m = np.where(keep_mask, m, 0.0).astype(np.float32)
    m[~valid] = 0.0
    radius = int(round(CLOSE_FRAC * np.hypot(hw_, ww_)))
    region = _complete_regions(m > 0.5, valid, radius)
    if region.any():
        soft = cv2.GaussianBlur(region.astype(np.float32), (0, 0), max(1.0, radius / 4))
        m = np.maximum(m, np.where(region, 0.5 + 0.5 * soft, 0.0)).astype(np.float32)
    changed = float((m > 0.5)[valid].mean())
    if s < 1:
        m = cv2.resize(m, (qw, qh), interpolation=cv2.INTER_LINEAR)
        valid = cv2.resize(valid.astype(np.uint8), (qw, qh), interpolation=cv2.INTER_NEAREST) > 0
    out = np.clip(m, 0, 1).astype(np.float32)
    return Difference(out, valid, changed, pq.tolist(), pr.tolist(), h_full)
