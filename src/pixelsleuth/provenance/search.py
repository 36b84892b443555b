"""Copy search against a :class:`~pixelsleuth.provenance.index.ReferenceIndex`.

1. candidates: PDQ (all 8 rotations/flips, Hamming), the global descriptor (inner product) and, while the index
   keeps them, votes from ORB local features (each query keypoint votes for the reference of its nearest stored
   keypoint);
2. re-ranking: each candidate is verified geometrically (ORB matches, ratio test, MAGSAC homography; the query is
   also tried mirrored) and scored with a calibrated ``copy_probability`` from the inlier count and PDQ distance;
3. for each confirmed match: the homography, the matched polygon in both images and an aligned difference map in
   query coordinates (:mod:`pixelsleuth.provenance.localize`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pixelsleuth.provenance import descriptors as D
from pixelsleuth.provenance import hashing as H
from pixelsleuth.provenance.index import KP_PER_REF_ID, Reference, ReferenceIndex
from pixelsleuth.provenance.localize import Difference, difference_map

_CALIB = Path(__file__).with_name("trained") / "calibration.json"
_DEFAULT_CALIB = {"a_inl": 1.1, "b_inl": -3.4, "pdq_center": 31.5, "pdq_scale": 4.0}


@lru_cache(maxsize=1)
def calibration() -> dict[str, float]:
    if _CALIB.exists():
        return {**_DEFAULT_CALIB, **json.loads(_CALIB.read_text())}
    return dict(_DEFAULT_CALIB)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def probability_from_inliers(inliers: int) -> float:
    c = calibration()
    return _sigmoid(c["a_inl"] * math.log1p(inliers) * 2.0 + c["b_inl"] * 2.0) if inliers > 0 else 0.0


def probability_from_pdq(dist: int | None, quality: int | None = 100) -> float:
    if dist is None or (quality is not None and quality < 50):
        return 0.0
    c = calibration()
    return _sigmoid((c["pdq_center"] - dist) / c["pdq_scale"])


@dataclass
class Match:
    ref: Reference
    copy_probability: float
    inliers: int = 0
    matches: int = 0
    pdq_distance: int | None = None
    descriptor_similarity: float | None = None
    votes: float = 0.0
    sources: list[str] = field(default_factory=list)
    mirrored: bool = False
    homography: np.ndarray | None = None  # reference -> query pixel coordinates
    polygon_query: list[list[float]] = field(default_factory=list)
    polygon_ref: list[list[float]] = field(default_factory=list)
    difference: Difference | None = None

    @property
    def confirmed(self) -> bool:
        return self.copy_probability >= 0.5

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "reference": self.ref.to_dict(),
            "copy_probability": round(self.copy_probability, 4),
            "confirmed": self.confirmed,
            "inliers": self.inliers,
            "pdq_distance": self.pdq_distance,
            "descriptor_similarity": None
            if self.descriptor_similarity is None
            else round(self.descriptor_similarity, 4),
            "sources": self.sources,
            "mirrored": self.mirrored,
            "homography": None if self.homography is None else np.round(self.homography, 6).tolist(),
            "polygon_query": [[round(x, 1), round(y, 1)] for x, y in self.polygon_query],
            "polygon_ref": [[round(x, 1), round(y, 1)] for x, y in self.polygon_ref],
        }
        if self.difference is not None:
            d["changed_fraction"] = round(self.difference.changed_fraction, 4)
        return d


@dataclass
class SearchResult:
    matches: list[Match]
    timings: dict[str, float]
    query_pdq: str
    query_pdq_quality: int

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "query_pdq": self.query_pdq,
            "query_pdq_quality": self.query_pdq_quality,
            "matches": [m.to_dict() for m in self.matches],
            "timings_ms": {k: round(v * 1000, 2) for k, v in self.timings.items()},
        }


@dataclass
class _Cand:
    rid: int
    pdq: int | None = None
    sim: float | None = None
    votes: float = 0.0
    sources: set[str] = field(default_factory=set)


def _verify(q: D.LocalFeatures, r: D.LocalFeatures) -> tuple[int, int, np.ndarray | None]:
    """ORB ratio-test matches + MAGSAC homography; returns (inliers, tentative matches, H ref->query)."""
    if len(q) < 8 or len(r) < 8:
        return 0, 0, None
    bf = cv2.BFMatcher(cv2.NORM_HAMMING)
    knn = bf.knnMatch(q.desc, r.desc, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < 0.85 * m[1].distance and m[0].distance <= 72]
    if len(good) < 8:
        return 0, len(good), None
    src = r.xy[[m.trainIdx for m in good]].astype(np.float32)
    dst = q.xy[[m.queryIdx for m in good]].astype(np.float32)
    thr = max(3.0, 0.008 * max(q.size))
    hmat, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, thr, maxIters=1000, confidence=0.995)
    if hmat is None or mask is None:
        return 0, len(good), None
    inl = int(mask.sum())
    # reject degenerate homographies (collapsed, extreme perspective)
    a = hmat[:2, :2] / hmat[2, 2]
    det = float(np.linalg.det(a))
    if not np.isfinite(det) or abs(det) < 1e-3 or abs(det) > 1e3 or np.abs(hmat[2, :2]).max() > 0.01:
        return 0, len(good), None
    # inliers must be spread out, not piled on one spot
    pts = dst[mask.ravel() > 0]
    if len(pts) >= 3:
        spread = float(np.sqrt(np.prod(pts.std(0) + 1e-3)))
        if spread < 0.01 * max(q.size):
            return 0, len(good), None
    return inl, len(good), hmat


def _mirror(q: D.LocalFeatures, rgb: np.ndarray) -> tuple[D.LocalFeatures, np.ndarray]:
    flipped = np.ascontiguousarray(rgb[:, ::-1])
    return D.local_features(flipped, D.QUERY_KEYPOINTS), flipped


def search(
    index: ReferenceIndex,
    rgb: np.ndarray,
    top_k: int = 5,
    localize: bool = True,
    max_verify: int = 10,
    min_probability: float = 0.0,
) -> SearchResult:
    """Search one query image (uint8 RGB); matches sorted by ``copy_probability`` (best first)."""
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    index.refresh()
    ann = index.ann
    cands: dict[int, _Cand] = {}

    def cand(rid: int) -> _Cand:
        if rid not in cands:
            cands[rid] = _Cand(rid)
        return cands[rid]

    hashes = H.pdq_dihedral(rgb)
    # the global descriptor of the query and of its two mirror images (neither descriptor is flip-invariant)
    qdesc = (
        np.stack(
            [
                D.global_descriptor(np.ascontiguousarray(v), index.descriptor_kind)
                for v in (rgb, rgb[:, ::-1], rgb[::-1])
            ]
        )
        if index.descriptor_available
        else None
    )
    qloc = D.local_features(rgb, D.QUERY_KEYPOINTS)
    t["signals"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    if ann.n:
        k = min(8, ann.n)
        dist, ids = ann.pdq.search(np.stack([np.frombuffer(h.bits, np.uint8) for h in hashes]), k)
        for drow, irow in zip(dist, ids, strict=True):
            for d, i in zip(drow, irow, strict=True):
                if i >= 0 and d <= 90:
                    c = cand(int(i))
                    c.pdq = int(d) if c.pdq is None else min(c.pdq, int(d))
                    c.sources.add("pdq")
        if (
            qdesc is None
        ):  # built with a descriptor this installation cannot compute: hashes and local features only
            sims, ids = np.zeros((1, 0), np.float32), np.zeros((1, 0), np.int64)
        else:
            sims, ids = ann.desc.search(qdesc.astype(np.float32), min(20, ann.n))
        for srow, irow in zip(sims, ids, strict=True):
            for s, i in zip(srow, irow, strict=True):
                if i >= 0:
                    c = cand(int(i))
                    c.sim = float(s) if c.sim is None else max(c.sim, float(s))
                    c.sources.add("descriptor")
    t["hash_descriptor"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    if ann.local_enabled and ann.local_n and len(qloc):
        _vote(ann.local, qloc.desc, cand)
    t["local_votes"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    # verification order: votes first, then PDQ, then descriptor similarity
    order = sorted(
        cands.values(),
        key=lambda c: (-(c.votes + (30 if c.pdq is not None and c.pdq <= 40 else 0)), -(c.sim or -1.0)),
    )
    by_sim = sorted((c for c in cands.values() if c.sim is not None), key=lambda c: -(c.sim or 0.0))[:2]
    to_verify = order[: max(1, max_verify - 2)]
    to_verify += [c for c in by_sim if c not in to_verify]
    matches: list[Match] = []
    done: dict[int, Match] = {}
    rloc_cache: dict[int, D.LocalFeatures | None] = {}

    def verify(c: _Cand, ql: D.LocalFeatures, mirrored: bool) -> None:
        ref = index.get(c.rid)
        if ref is None:
            return
        if c.rid not in rloc_cache:
            rloc_cache[c.rid] = index.local_features(c.rid)
        rloc = rloc_cache[c.rid]
        inl, ntent, hm = _verify(ql, rloc) if rloc is not None else (0, 0, None)
        if mirrored and hm is not None:
            w = rgb.shape[1]
            hm = np.array([[-1.0, 0, w - 1], [0, 1, 0], [0, 0, 1]]) @ hm
        prev = done.get(c.rid)
        if prev is not None and prev.inliers >= inl:
            return
        p = max(probability_from_inliers(inl), probability_from_pdq(c.pdq, ref.pdq_quality))
        done[c.rid] = Match(ref, p, inl, ntent, c.pdq, c.sim, c.votes, sorted(c.sources), mirrored, hm)

    best_inl = 0
    for c in to_verify:
        if best_inl >= 60 and c.votes < 3 and (c.pdq is None or c.pdq > 40):
            continue  # a strong match is already confirmed; weak candidates cannot outrank it
        verify(c, qloc, False)
        best_inl = max(best_inl, done[c.rid].inliers if c.rid in done else 0)
    if best_inl < 15 and len(qloc) and ann.local_enabled and ann.local_n:
        # mirrored copies: ORB is not mirror-invariant, so vote and verify again with the flipped query
        qflip, _ = _mirror(qloc, rgb)
        fl: dict[int, _Cand] = {}

        def fcand(rid: int) -> _Cand:
            if rid not in fl:
                fl[rid] = _Cand(rid, pdq=cands[rid].pdq if rid in cands else None)
            return fl[rid]

        _vote(ann.local, qflip.desc, fcand)
        for c in sorted(fl.values(), key=lambda c: -c.votes)[:4]:
            if c.rid in cands:
                c.sim = cands[c.rid].sim
                c.sources |= cands[c.rid].sources
            c.sources.add("mirrored")
            verify(c, qflip, True)
    elif best_inl < 15 and len(qloc) and order:
        # no local-feature voting (large indexes): verify the best hash/descriptor candidates mirrored as well
        qflip, _ = _mirror(qloc, rgb)
        for c in order[:4]:
            mc = _Cand(c.rid, pdq=c.pdq)
            mc.sim, mc.sources = c.sim, set(c.sources) | {"mirrored"}
            verify(mc, qflip, True)
    matches = list(done.values())
    t["verify"] = time.perf_counter() - t1
    # unverified candidates keep a small descriptor-based score so rankings stay complete
    verified = {m.ref.id for m in matches}
    for c in order:
        if c.rid in verified or len(matches) >= top_k:
            continue
        ref = index.get(c.rid)
        if ref is not None:
            p = max(probability_from_pdq(c.pdq, ref.pdq_quality), 0.05 * max(0.0, c.sim or 0.0))
            matches.append(Match(ref, p, 0, 0, c.pdq, c.sim, c.votes, sorted(c.sources)))
    matches.sort(key=lambda m: (-m.copy_probability, -m.inliers))
    matches = [m for m in matches if m.copy_probability >= min_probability][:top_k]
    t1 = time.perf_counter()
    for m in matches:
        if m.homography is None:
            continue
        pq, pr = _polys(m, rgb.shape[:2])
        m.polygon_query, m.polygon_ref = pq, pr
        if localize and m.confirmed:
            thumb = index.thumbnail(m.ref.id)
            if thumb is not None:
                s = thumb.shape[1] / max(1, m.ref.width)
                h_thumb = m.homography @ np.diag([1.0 / s, 1.0 / s, 1.0])
                diff = difference_map(rgb, thumb, h_thumb)
                m.difference = diff
                m.polygon_query = diff.polygon_query
                m.polygon_ref = (np.asarray(diff.polygon_ref) / s).tolist() if diff.polygon_ref else []
    t["localize"] = time.perf_counter() - t1
    t["total"] = time.perf_counter() - t0
    return SearchResult(matches, t, hashes[0].hex, hashes[0].quality)


def _polys(m: Match, qshape: tuple[int, int]) -> tuple[list[list[float]], list[list[float]]]:
    from pixelsleuth.provenance.localize import polygons

    assert m.homography is not None
    pq, pr = polygons(m.homography, (m.ref.height, m.ref.width), qshape)
    return pq.tolist(), pr.tolist()


def _vote(local_index: Any, qdesc: np.ndarray, cand: Any) -> None:
    dist, ids = local_index.search(np.ascontiguousarray(qdesc), 2)
    best = ids[:, 0]
    d0 = dist[:, 0].astype(np.float32)
    d1 = dist[:, 1].astype(np.float32)
    rid0 = best // KP_PER_REF_ID
    rid1 = ids[:, 1] // KP_PER_REF_ID
    # a vote counts when the match is close and distinctive (second neighbour farther, or from the same reference)
    ok = (best >= 0) & (d0 <= 64) & ((d0 < 0.9 * d1) | (rid0 == rid1))
    w = np.clip(1.0 - d0 / 80.0, 0.0, 1.0)
    votes: dict[int, float] = {}
    for r, ww in zip(rid0[ok], w[ok], strict=True):
        votes[int(r)] = votes.get(int(r), 0.0) + float(ww)
    for r, v in sorted(votes.items(), key=lambda kv: -kv[1])[:20]:
        c = cand(r)
        c.votes = v
        c.sources.add("local")
