"""Copy-move detector: finds regions of an image that were copied from another part of the same image.

Pipeline (all at a bounded working resolution):

1. SIFT keypoints (low contrast threshold so smooth regions get some), RootSIFT descriptors, generalised 2-NN
   matching of the image against itself (a region copied several times matches several times), dropping pairs
   closer than a minimum shift.
2. Symmetric sequential RANSAC: affine maps explaining many pairs, with each pair's orientation (which side is the
   source) decided by the map.
3. Dense block matching (low-frequency DCT block features, nearest neighbour, offset voting) adds translation
   candidates for copies with too few keypoints.
4. Verification: the image is warped by each candidate map (both directions) and compared with itself by local
   zero-mean normalised correlation; correlated connected regions holding the matched points become the source and
   target masks. A copy is near-identical to its source; similar-looking genuine objects are not.
5. Each candidate's probability is a logistic function of the verified area, the number of supporting matches and the
   mean correlation (calibrated on synthetic copy-moves, see docs/bench/copymove.md); the map carries that
   probability over both regions.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import cv2
import numpy as np

from pixelsleuth.detectors._cm_dense import (
    block_translation_candidates,
    refine_ecc,
    refine_translation,
    residual_correlation,
    verify_affine,
)
from pixelsleuth.detectors._cm_geometry import (
    Candidate,
    apply_affine,
    describe_affine,
    g2nn_pairs,
    root_sift,
    sequential_ransac,
)
from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData

# Logistic calibration of a candidate's probability: z = sum(w_i * f_i) + b, with
# f = (log10 verified area in per-mille of the image, log10 supporting matches, mean local correlation - 0.9,
# pooled high-pass residual correlation, fraction of near-identical (corr > 0.95) region pixels).
# Fitted with benchmarks/manip_copymove_calibrate.py on COVERAGE pairs 1-50 and the synthetic 'train' split.
_CAL_W = (0.571, 0.821, 10.197, -5.297, 4.713)
_CAL_B = 0.002

_PROFILE_SETTINGS: dict[str, dict[str, Any]] = {
    "fast": {"max_pixels": 0.35e6, "blocks": False, "flip": False, "max_kp": 2500},
    "default": {"max_pixels": 1.0e6, "blocks": "strict", "flip": False, "max_kp": 6000},
    "thorough": {"max_pixels": 2.0e6, "blocks": "strict", "flip": True, "max_kp": 12000},
}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def candidate_features(
    area_frac: float, n_support: int, mean_corr: float, rcorr: float, frac_high: float
) -> tuple[float, ...]:
    """The calibration features of a verified candidate."""
    return (
        math.log10(max(area_frac * 1000.0, 1e-3)),
        math.log10(max(n_support, 1)),
        float(mean_corr) - 0.9,
        float(rcorr),
        float(frac_high),
    )


def candidate_probability(
    feats: tuple[float, ...], w: tuple[float, ...] = _CAL_W, b: float = _CAL_B
) -> float:
    return _sigmoid(sum(wi * fi for wi, fi in zip(w, feats, strict=True)) + b)


def _keypoints(
    gray_u8: np.ndarray, max_kp: int, contrast: float
) -> tuple[list[cv2.KeyPoint], np.ndarray | None]:
    sift = cv2.SIFT_create(nfeatures=max_kp, contrastThreshold=contrast)
    kps, desc = sift.detectAndCompute(gray_u8, None)
    return list(kps), desc


def _mirror_descriptors(gray_u8: np.ndarray, kps: list[cv2.KeyPoint]) -> np.ndarray | None:
    """Descriptors of the mirrored neighbourhood of each keypoint (to match horizontally flipped copies)."""
    w = gray_u8.shape[1]
    flipped = np.ascontiguousarray(gray_u8[:, ::-1])
    mk = [
        cv2.KeyPoint(
            float(w - 1 - k.pt[0]), float(k.pt[1]), k.size, (180.0 - k.angle) % 360.0, k.response, k.octave
        )
        for k in kps
    ]
    sift = cv2.SIFT_create()
    mk2, desc = sift.compute(flipped, mk)
    if desc is None or len(mk2) != len(kps):
        return None
    return desc


def _snap_translation(work: np.ndarray, A: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """A map that is nearly a pure shift is most likely exactly one (the commonest copy-move): replace it by the
    integer shift that best aligns the matched points, so verification compares pixels exactly."""
    L = A[:, :2]
    if np.linalg.det(L) <= 0:
        return A
    sv = np.linalg.svd(L, compute_uv=False)
    rot = abs(math.degrees(math.atan2(L[1, 0], L[0, 0])))
    if rot > 5.0 or abs(sv[0] - 1) > 0.06 or abs(sv[1] - 1) > 0.06:
        return A
    off = np.median(dst - src, axis=0)
    At = np.array([[1.0, 0.0, off[0]], [0.0, 1.0, off[1]]])
    return refine_translation(work, At, src)


def _alignment_error(work: np.ndarray, A: np.ndarray, src: np.ndarray, r: int = 4) -> float:
    """Median over matched points of the mean absolute difference between the (2r+1)^2 neighbourhood of a source
    point and the neighbourhood of its image under ``A`` (bilinear sampling)."""
    pts = src[:: max(1, len(src) // 60)]
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    px = pts[:, 0, None, None].astype(np.float32) + dx
    py = pts[:, 1, None, None].astype(np.float32) + dy
    qx = A[0, 0] * px + A[0, 1] * py + A[0, 2]
    qy = A[1, 0] * px + A[1, 1] * py + A[1, 2]
    n = len(pts)
    a = cv2.remap(work, px.reshape(n, -1), py.reshape(n, -1), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    b = cv2.remap(
        work,
        qx.reshape(n, -1).astype(np.float32),
        qy.reshape(n, -1).astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    return float(np.median(np.abs(a - b).mean(axis=1)))


@register
class CopyMoveDetector(Detector):
    name: ClassVar[str] = "copymove"
    version: ClassVar[str] = "1.0"
    family: ClassVar[Family] = Family.MANIPULATION
    requires: ClassVar[frozenset[str]] = frozenset({"rgb"})
    profiles: ClassVar[frozenset[str]] = frozenset({"default", "thorough"})
    description: ClassVar[str] = (
        "Finds regions copied from elsewhere in the same image (keypoint + block matching, affine verification)."
    )

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        settings = dict(_PROFILE_SETTINGS.get(context.profile, _PROFILE_SETTINGS["default"]))
        for key in list(settings) + ["contrast", "ratio", "tau", "seed"]:
            v = context.opt(self.name, key)
            if v is not None:
                settings[key] = v
        h0, w0 = image.shape
        scale = min(1.0, math.sqrt(float(settings["max_pixels"]) / max(h0 * w0, 1)))
        gray = np.asarray(image.gray, dtype=np.float32)
        if scale < 1.0:
            work = cv2.resize(
                gray, (max(1, round(w0 * scale)), max(1, round(h0 * scale))), interpolation=cv2.INTER_AREA
            )
        else:
            work = gray.copy()
        h, w = work.shape
        to_full = 1.0 / scale
        diag = math.hypot(h, w)
        min_shift = max(8.0, 0.015 * diag)
        rng = np.random.default_rng(int(settings.get("seed", 0)))
        result = self.evidence(map=np.zeros((h0, w0), np.float32), score=0.0)
        if min(h, w) < 32:
            result.findings.append(
                Finding("The image is too small to search for copied regions.", code="copymove.too_small")
            )
            result.reliability = np.zeros((h0, w0), np.float32)
            return result

        work_u8 = np.clip(np.round(work), 0, 255).astype(np.uint8)
        kps, desc = _keypoints(work_u8, int(settings["max_kp"]), float(settings.get("contrast", 0.02)))
        candidates: list[Candidate] = []
        n_kp = len(kps)
        n_pairs = 0
        if desc is not None and n_kp >= 4:
            pts = np.array([k.pt for k in kps], dtype=np.float64)
            rdesc = root_sift(desc)
            ratio = float(settings.get("ratio", 0.6))
            pairs = g2nn_pairs(rdesc, rdesc, pts, pts, ratio=ratio, min_dist=min_shift)
            P, Q = pts[pairs[:, 0]], pts[pairs[:, 1]]
            if settings["flip"]:
                mdesc = _mirror_descriptors(work_u8, kps)
                if mdesc is not None:
                    fp = g2nn_pairs(
                        rdesc, root_sift(mdesc), pts, pts, ratio=ratio, min_dist=min_shift, same_set=False
                    )
                    if len(fp):
                        P = np.concatenate([P, pts[fp[:, 0]]])
                        Q = np.concatenate([Q, pts[fp[:, 1]]])
            n_pairs = len(P)
            if n_pairs >= 4:
                thresh = max(2.5, 0.006 * diag)
                for A, src, dst in sequential_ransac(
                    P, Q, rng, thresh=thresh, min_inliers=4, min_shift=min_shift
                ):
                    candidates.append(Candidate(A=A, src_pts=src, dst_pts=dst, origin="keypoints"))
        if settings["blocks"]:
            strict = settings["blocks"] == "strict"
            for A, src, dst in block_translation_candidates(
                work,
                min_shift=min_shift,
                min_votes=20 if strict else 12,
                min_std=3.0 if strict else 2.0,
                tol_rel=0.01 if strict else 0.05,
                tol_abs=0.6 if strict else 2.0,
            ):
                # skip translations the keypoint stage already found
                o = A[:, 2]
                dup = False
                for c in candidates:
                    centre = c.src_pts.mean(axis=0)
                    disp = apply_affine(c.A, centre[None])[0] - centre
                    if np.abs(disp - o).max() < 6 or np.abs(disp + o).max() < 6:
                        dup = True
                        break
                if not dup:
                    A = refine_translation(work, A, src)
                    dst = apply_affine(A, src)
                    # block votes are denser than keypoint matches: count them as a quarter match each
                    n_eff = max(4, len(src) // 4)
                    sel = np.linspace(0, len(src) - 1, n_eff).astype(int)
                    candidates.append(Candidate(A=A, src_pts=src[sel], dst_pts=dst[sel], origin="blocks"))

        tau = float(settings.get("tau", 0.8))
        map_work = np.zeros((h, w), np.float32)
        verified: list[dict[str, Any]] = []
        for c in candidates:
            if c.origin == "keypoints":
                # keep whichever of the keypoint fit, its ECC refinement and the snapped pure shift aligns the
                # matched neighbourhoods best
                options = [c.A, refine_ecc(work, c.A, c.src_pts)]
                snapped = _snap_translation(work, c.A, c.src_pts, c.dst_pts)
                if snapped is not c.A:
                    options.append(snapped)
                errs = [_alignment_error(work, A_opt, c.src_pts) for A_opt in options]
                c.A = options[int(np.argmin(errs))]
            tgt, src_m, mean_corr, frac_high = verify_affine(
                work, c.A, c.src_pts, c.dst_pts, min_shift=min_shift, tau=tau
            )
            union = tgt | src_m
            area = float(union.mean())
            if area <= 0:
                continue
            if c.origin == "blocks" and (mean_corr < 0.93 or frac_high < 0.5):
                # block votes also come from repetitive texture; only near-exact duplicates count
                continue
            rcorr = residual_correlation(work, c.A, tgt)
            feats = candidate_features(area, len(c.src_pts), mean_corr, rcorr, frac_high)
            p = candidate_probability(feats)
            np.maximum(map_work, union.astype(np.float32) * p, out=map_work)
            centre_s = c.src_pts.mean(axis=0)
            ys, xs = np.nonzero(src_m)
            if len(xs):
                centre_s = np.array([xs.mean(), ys.mean()])
            centre_t = apply_affine(c.A, centre_s[None])[0]
            tr = describe_affine(c.A, c.flipped, to_full)
            tr["tx"] = float((centre_t[0] - centre_s[0]) * to_full)
            tr["ty"] = float((centre_t[1] - centre_s[1]) * to_full)
            verified.append(
                {
                    "probability": round(p, 4),
                    "origin": c.origin,
                    "supporting_matches": int(len(c.src_pts)),
                    "mean_correlation": round(mean_corr, 4),
                    "area_fraction": round(area, 5),
                    "source_center": [
                        round(float(centre_s[0] * to_full), 1),
                        round(float(centre_s[1] * to_full), 1),
                    ],
                    "target_center": [
                        round(float(centre_t[0] * to_full), 1),
                        round(float(centre_t[1] * to_full), 1),
                    ],
                    "transform": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in tr.items()},
                    "affine": [[round(float(x), 5) for x in row] for row in c.A],
                    "residual_correlation": round(rcorr, 4),
                    "near_identical_fraction": round(frac_high, 4),
                    "_feats": feats,
                }
            )
        verified.sort(key=lambda d: -d["probability"])
        score = 1.0 - float(np.prod([1.0 - d["probability"] for d in verified])) if verified else 0.0
        score = max([d["probability"] for d in verified] + [0.0]) * 0.7 + 0.3 * score if verified else 0.0

        full_map = cv2.resize(map_work, (w0, h0), interpolation=cv2.INTER_LINEAR) if scale < 1.0 else map_work
        # reliability: a copy of a flat area cannot be told from the flat area itself
        sd = np.sqrt(np.maximum(cv2.blur(work * work, (9, 9)) - cv2.blur(work, (9, 9)) ** 2, 0.0))
        rel = np.clip(sd / 4.0, 0.15, 1.0).astype(np.float32)
        rel_full = cv2.resize(rel, (w0, h0), interpolation=cv2.INTER_LINEAR) if scale < 1.0 else rel
        flat_frac = float((sd < 1.5).mean())

        result.map = np.clip(full_map, 0, 1).astype(np.float32)
        result.reliability = rel_full
        result.score = score
        findings: list[Finding] = []
        for d in verified[:3]:
            t = d["transform"]
            if d["probability"] < 0.5:
                continue
            parts = [f"shifted by ({t['tx']:.0f}, {t['ty']:.0f}) px"]
            if abs(t["rotation_deg"]) >= 2:
                parts.append(f"rotated {t['rotation_deg']:.0f} degrees")
            if abs(t["scale"] - 1) >= 0.04:
                parts.append(f"scaled x{t['scale']:.2f}")
            if t["flip"]:
                parts.append("mirrored")
            sev = Severity.STRONG if d["probability"] >= 0.85 else Severity.MODERATE
            sx, sy = d["source_center"]
            tx, ty = d["target_center"]
            findings.append(
                Finding(
                    f"A region around ({sx:.0f}, {sy:.0f}) appears copied to ({tx:.0f}, {ty:.0f}), "
                    f"{', '.join(parts)} ({d['area_fraction'] * 100:.1f}% of the image, "
                    f"probability {d['probability']:.2f}).",
                    severity=sev,
                    supports=Supports.MANIPULATED,
                    data={k: v for k, v in d.items() if not k.startswith("_")},
                    code="copymove.region",
                )
            )
        if not findings:
            msg = "No copied regions were found."
            if verified:
                msg = (
                    f"{len(verified)} weakly similar region pair(s) were checked and look like genuinely similar "
                    "content, not copies."
                )
            findings.append(Finding(msg, code="copymove.none"))
        if flat_frac > 0.6:
            findings.append(
                Finding(
                    f"{flat_frac * 100:.0f}% of the image is nearly flat; copies of flat areas cannot be detected there.",
                    code="copymove.low_texture",
                )
            )
        result.findings = findings
        result.extra = {
            "working_scale": round(scale, 4),
            "keypoints": n_kp,
            "matched_pairs": int(n_pairs),
            "candidates": len(candidates),
            "regions": [{k: v for k, v in d.items() if not k.startswith("_")} for d in verified[:8]],
            "features": [list(map(float, d["_feats"])) for d in verified[:8]],
        }
        return result
