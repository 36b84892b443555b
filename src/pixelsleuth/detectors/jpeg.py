"""JPEG-compression evidence: aligned and non-aligned double quantization, blocking-grid alignment, ghosts.

* **aligned double quantization** (every profile): when a JPEG is decoded, edited and saved again on the same
  8x8 grid, the DCT histograms of the untouched area carry the periodic fingerprint of the first quantization,
  while content pasted from elsewhere does not. A per-block likelihood ratio (single vs. double compression, with
  the first quantization step estimated per DCT mode by maximum likelihood) gives the map; the first steps give a
  primary-quality estimate.
* **grid alignment** (default/thorough; also for non-JPEG inputs): the 8x8 blocking pattern is measured from the
  pixels; a dominant grid that is not the file's own grid means the picture was cropped after an earlier JPEG
  compression, and a local grid at another phase flags a pasted, previously compressed region.
* **non-aligned double quantization** (default/thorough, JPEG files): a picture cropped between two compressions
  keeps the first one on a shifted grid, where its DCT coefficients sit near multiples of the first steps; the
  shifted grid is searched for by integer periodicity, and the blocks that lost the periodicity (pasted after the
  crop) are mapped (``_jpeg_nadq``; map and finding, no score).
* **JPEG compatibility** (default/thorough, lossless files only): a decoded JPEG saved as PNG/TIFF keeps its DCT
  coefficients on the quantization lattice in every untouched 8x8 block; blocks changed after decompression fall
  off it. The grid phase and the steps are estimated from the pixels (``_jpeg_compat``). The colour is checked the
  same way on the half-resolution chroma planes recovered from the decoder's up-sampling (``_jpeg_chroma``), which
  sees hue and saturation changes that barely touch the luma.
* **JPEG ghosts** (default/thorough): the luma is recompressed at lower qualities; a region whose error curve
  differs from the rest of the image stands out.

The analysis runs in the file's stored orientation and maps are turned to display orientation at the end.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import ndimage

from pixelsleuth.detectors._jpeg_chroma import ChromaCompat, chroma_compatibility
from pixelsleuth.detectors._jpeg_compat import CompatResult, blocks_to_pixels, jpeg_compatibility
from pixelsleuth.detectors._jpeg_dq import double_quantization, ghosts, grid_analysis
from pixelsleuth.detectors._jpeg_nadq import periodicity_map, search_shift
from pixelsleuth.detectors._jpeg_util import (
    LumaCoefficients,
    block_map_to_display,
    decode_luma,
    map_gate,
    read_coefficients,
)
from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData

MIN_BLOCKS = 8  # per side

# calibration constants (benchmarks/manip_noise_jpeg_eval.py on the calibration split, see docs/bench/noise_jpeg.md)
# per-block evidence is pooled over DQ_WINDOW x DQ_WINDOW blocks (as a mean, scaled to 9 blocks); 5 rather than 3
# helps most when the first compression was finer than the last, where each block carries little evidence
# (fusion fit set, JPEG q90 re-saves of camera JPEGs: map F1-best 0.41 -> 0.43)
DQ_WINDOW = 5
# mean LL gain per block to call double compression. Single-compressed calibration JPEGs (benchmarks/
# manip_noise_jpeg_common.py, calib split): median 0, max 0.07 (1 of 60 above 0.04). Camera JPEGs re-saved at q90
# whose first steps are finer but not divisors (2 -> 3): 10th percentile 0.044, so 0.09 missed a third of them.
DQ_GAIN_MIN = 0.04
GRID_NA_MIN = 0.12  # normalized strength of a non-(0,0) dominant grid to call it non-aligned recompression
GRID_LOCAL_T0, GRID_LOCAL_T1 = (
    0.50,
    0.90,
)  # local off-grid strength -> map ramp (authentic p99: 97th pct 0.49)
GHOST_T0, GHOST_T1 = 0.18, 0.35  # ghost deviation -> map ramp (authentic p99: 97th percentile 0.17)
# JPEG compatibility of lossless images: 3x3-block mean off-lattice points -> map ramp (0.5 at 2.5 points;
# 5.7% of the fusion test set's PNG controls have more than 1% of pixels above 2, none above 4)
COMPAT_T0, COMPAT_T1 = 1.0, 4.0
# non-aligned double compression (_jpeg_nadq): contrast of the best shifted grid over the median shift. JPEGs without
# an earlier shifted compression reach 1.96 (438 of the fusion sets) and 1.79 (242 test photos); shifted first
# compressions coarser than the last give 4.2-11.5 when found (benchmarks/jpeg_na_dq.py)
NA_CONTRAST_MIN = 3.5
NA_EXPECTED_MIN = 0.1  # typical periodicity vote of the kept blocks; below it the map is noise
# logistic model of the double-quantization region (log area, median 3x3-summed LLR inside / 50, concentration)
DQ_W, DQ_B = (1.7009, 2.5601, 1.1234), 2.2272


def _ramp(x: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return np.clip((x - t0) / (t1 - t0), 0.0, 1.0)


def _largest_component(mask: np.ndarray) -> tuple[np.ndarray, int]:
    lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return np.zeros_like(mask), 0
    sizes = ndimage.sum(mask, lab, index=np.arange(1, n + 1))
    k = int(np.argmax(sizes)) + 1
    return lab == k, n


def _region_score(m: np.ndarray, min_area: float = 0.004, max_area: float = 0.6) -> tuple[float, float]:
    """Score of the strongest compact region of a [0,1] block map: (score in [0,1], area fraction)."""
    comp, _ = _largest_component(m > 0.5)
    area = float(comp.mean())
    if area < min_area or area > max_area:
        return 0.0, area
    inside = float(m[comp].mean())
    outside = float(np.mean(m[~comp])) if (~comp).any() else 1.0
    return float(np.clip(inside - outside, 0.0, 1.0)), area


def _dq_score(m: np.ndarray, llr: np.ndarray) -> tuple[float, float]:
    """Calibrated score that a compact region is single-compressed inside a double-compressed image."""
    flagged = m > 0.5
    comp, _ = _largest_component(flagged)
    area = float(comp.mean())
    if area == 0.0:
        return 0.0, 0.0
    llr_in = float(np.clip(np.median(llr[comp]), -100, 300)) / 50.0
    conc = float(comp.sum() / flagged.sum())
    z = DQ_B + DQ_W[0] * np.log(area + 1e-3) + DQ_W[1] * llr_in + DQ_W[2] * conc
    return float(1.0 / (1.0 + np.exp(-z))), area


@register
class JpegDetector(Detector):
    name: ClassVar[str] = "jpeg"
    version: ClassVar[str] = "1.0"
    family: ClassVar[Family] = Family.MANIPULATION
    requires: ClassVar[frozenset[str]] = frozenset({"rgb"})  # coefficients are read from the bytes if needed
    profiles: ClassVar[frozenset[str]] = frozenset({"fast", "default", "thorough"})
    description: ClassVar[str] = (
        "JPEG compression history: double quantization, misaligned 8x8 grids and JPEG ghosts."
    )

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        profile = context.profile
        h, w = image.shape
        if min(h, w) < 8 * MIN_BLOCKS:
            return self.evidence(
                skipped=f"image too small for JPEG analysis (needs at least {8 * MIN_BLOCKS} px a side)",
                findings=[
                    Finding("The image is too small for JPEG-history analysis.", code="jpeg.too_small")
                ],
            )
        lc = read_coefficients(image)
        if lc is None:
            return self._non_jpeg(image, profile)
        findings: list[Finding] = []
        extra: dict[str, Any] = {"profile": profile}
        stored_shape = (w, h) if image.orientation in (5, 6, 7, 8) else (h, w)
        q2 = lc.quality
        if q2 is not None:
            extra["quality"] = round(float(q2), 1)
            findings.append(
                Finding(
                    f"The file is a JPEG saved at quality about {q2:.0f} (libjpeg scale).",
                    code="jpeg.quality",
                    data={"quality": round(float(q2), 1)},
                )
            )
        y = decode_luma(lc.coef, lc.qt)
        bh, bw = lc.coef.shape[:2]
        # blocks whose low-frequency AC coefficients are almost all zero carry no information
        textured = (np.abs(lc.coef[:, :, :3, :3]).sum((2, 3)) - np.abs(lc.coef[:, :, 0, 0])) > 2
        n_modes = 14 if profile == "thorough" else 9
        dq = double_quantization(lc.coef, lc.qt, y, n_modes=n_modes)
        is_dq = dq.gain >= DQ_GAIN_MIN
        extra["double_quantization"] = {
            "gain": round(dq.gain, 4),
            "alpha": round(dq.alpha, 3),
            "first_steps": dq.q1,
            "current_steps": dq.q2,
            "primary_quality": dq.primary_quality,
            "detected": bool(is_dq),
        }
        maps: list[np.ndarray] = []
        scores: dict[str, float] = {}
        rel_block = np.full((bh, bw), 0.5, dtype=np.float32)
        if is_dq:
            llr = ndimage.uniform_filter(dq.llr, size=DQ_WINDOW, mode="nearest") * 9.0
            # the suspicious class is the minority one: single-compressed blocks in a mostly double-compressed
            # image (the usual splice), or double-compressed blocks pasted into a single-compressed image
            minority_double = dq.alpha < 0.5
            if minority_double:
                llr = -llr
            extra["double_quantization"]["flagged_class"] = "double" if minority_double else "single"
            dq_map = 1.0 / (1.0 + np.exp(-np.clip(llr - 2.0, -30, 30)))
            info = ndimage.uniform_filter(textured.astype(np.float32), size=3, mode="nearest")
            dq_map = dq_map * np.clip(info * 2.0, 0, 1)
            rel_block = np.clip(0.3 + info, 0, 1).astype(np.float32)
            maps.append(dq_map)
            s, area = _dq_score(dq_map, llr)
            # an even split between the two classes (alpha near 0.5) is what a recompressed or otherwise
            # ambiguous image produces; a splice gives a clear majority class
            certainty = float(np.clip((abs(dq.alpha - 0.5) - 0.03) / 0.07, 0.0, 1.0))
            scores["double_quantization"] = s * certainty
            extra["double_quantization"]["single_compressed_area"] = round(area, 4)
            pq = dq.primary_quality
            findings.append(
                Finding(
                    "The image was JPEG-compressed at least twice on the same grid"
                    + (f"; the earlier compression was at quality about {pq}." if pq else "."),
                    severity=Severity.INFO,
                    code="jpeg.double_compressed",
                    data={"primary_quality": pq, "gain": round(dq.gain, 4)},
                )
            )
        # in a mostly double-compressed image the DQ map is the trustworthy cue; the pixel-domain cues (grid,
        # ghosts) then only add texture-driven noise to the map (benchmark: best F1 0.77 -> 0.87 without them)
        secondary = 0.3 if (is_dq and dq.alpha >= 0.5) else 1.0
        if profile != "fast":
            grid = grid_analysis(y, expected=(0, 0))
            na = grid.phase != (0, 0) and grid.strength >= GRID_NA_MIN
            extra["grid"] = {
                "phase": list(grid.phase),
                "strength": round(grid.strength, 4),
                "non_aligned_recompression": bool(na),
            }
            if na:
                findings.append(
                    Finding(
                        f"A JPEG blocking grid shifted by {grid.phase[1]} px horizontally and {grid.phase[0]} px "
                        "vertically is visible: the picture was cropped or shifted after an earlier compression.",
                        severity=Severity.WEAK,
                        supports=Supports.MANIPULATED,
                        code="jpeg.misaligned_grid",
                        data={"phase": list(grid.phase), "strength": round(grid.strength, 4)},
                    )
                )
            extra["grid"]["local_offgrid_p99"] = round(float(np.percentile(grid.off_map, 99)), 4)
            if not na:
                # weak cue (benchmark: pixel AUC ~0.74 on misaligned splices, heavy-tailed on authentic images):
                # half weight in the map, no contribution to the score
                maps.append(0.5 * secondary * _ramp(grid.off_map, GRID_LOCAL_T0, GRID_LOCAL_T1))
            na_map = self._na_double(y, lc, textured, extra, findings)
            if na_map is not None:
                # map only, no score: on unedited pictures cropped between two compressions (8 controls of the
                # fusion fit sets; the grid is found in 3) the region score of this map reaches 0.37 and 0.60
                maps.append(na_map)
                extra["na_double_quantization"]["region_score"] = round(
                    _region_score(na_map, min_area=0.01, max_area=0.5)[0], 4
                )
            if q2 is not None and q2 > 50:
                step = 3 if profile == "thorough" else 5
                lo = 35 if profile == "thorough" else max(40, int(q2) - 35)
                qs = [q for q in range(lo, int(q2) - 2, step)][-8:]
                if len(qs) >= 3:
                    dev, med = ghosts(y, qs)
                    gh = _ramp(dev, GHOST_T0, GHOST_T1)
                    maps.append(secondary * gh)
                    # in a mostly double-compressed image the DQ model already covers pasted content and ghosts
                    # mostly echo texture (false alarms after further recompression): map only, no score
                    if not (is_dq and dq.alpha >= 0.5):
                        scores["ghost"] = _region_score(gh, min_area=0.01, max_area=0.5)[0]
                    extra["ghost"] = {"qualities": qs, "median_error": {str(k): v for k, v in med.items()}}
        if maps:
            raw = np.maximum.reduce([m[:bh, :bw] for m in maps]).astype(np.float32)
        else:
            raw = np.zeros((bh, bw), dtype=np.float32)
        score = float(max(scores.values())) if scores else 0.0
        extra["sub_scores"] = {k: round(v, 4) for k, v in scores.items()}
        gate = map_gate(score)
        extra["map_gate"] = round(gate, 4)
        m = block_map_to_display(raw * gate, image, stored_shape)
        rel = block_map_to_display(rel_block, image, stored_shape)
        if not is_dq:
            findings.append(
                Finding(
                    "No sign of an earlier JPEG compression on the same grid, so the double-compression test cannot "
                    "localize edits in this image.",
                    code="jpeg.single_compressed",
                )
            )
        if score >= 0.5:
            best = max(scores, key=lambda k: scores[k])
            what = {
                "double_quantization": "lacks the double-compression traces found in the rest of the image",
                "ghost": "responds to recompression differently from the rest of the image",
            }[best]
            findings.append(
                Finding(
                    f"A region {what}, as expected when content is pasted in before the last save.",
                    severity=Severity.STRONG if score >= 0.8 else Severity.MODERATE,
                    supports=Supports.MANIPULATED,
                    code=f"jpeg.local_{best}",
                    data={"cue": best, "score": round(score, 4)},
                )
            )
        return self.evidence(score=score, map=m, reliability=rel, findings=findings, extra=extra)

    @staticmethod
    def _na_double(
        y: np.ndarray,
        lc: LumaCoefficients,
        textured: np.ndarray,
        extra: dict[str, Any],
        findings: list[Finding],
    ) -> np.ndarray | None:
        """Block map (last grid) of the region that breaks an earlier compression on a shifted grid, or None."""
        shift, contrast = search_shift(y, textured=textured, qt=lc.qt)
        info: dict[str, Any] = {"shift": list(shift), "contrast": round(contrast, 3), "detected": False}
        extra["na_double_quantization"] = info
        if contrast < NA_CONTRAST_MIN:
            return None
        na = periodicity_map(y, shift, textured, lc.qt)
        if na.vote is None or na.expected < NA_EXPECTED_MIN:
            return None
        info.update(detected=True, first_steps=na.steps, expected_vote=round(na.expected, 3))
        t = np.clip(na.vote / na.expected, 0.0, 1.0)
        known = np.isfinite(t)
        kept = float(np.mean(t[known] > 0.5)) if known.any() else 0.0
        info["kept_fraction"] = round(kept, 3)
        # the suspicious class is the minority one: content pasted into a picture that was compressed and cropped
        # before (the usual case), or a cropped JPEG region pasted into a picture that was not
        m = np.where(known, t if kept < 0.5 else 1.0 - t, 0.0)
        dy, dx = shift
        bh, bw = lc.coef.shape[:2]
        px = np.zeros((bh * 8, bw * 8), np.float32)
        up = np.repeat(np.repeat(m, 8, axis=0), 8, axis=1)
        h, w = min(px.shape[0] - dy, up.shape[0]), min(px.shape[1] - dx, up.shape[1])
        px[dy : dy + h, dx : dx + w] = up[:h, :w]
        findings.append(
            Finding(
                f"The picture was JPEG-compressed before on a grid shifted by {dx} px horizontally and {dy} px "
                "vertically: it was cropped or shifted between two compressions.",
                severity=Severity.INFO,
                code="jpeg.na_double_compressed",
                data={"shift": [dy, dx], "contrast": round(contrast, 3), "first_steps": na.steps},
            )
        )
        return px.reshape(bh, 8, bw, 8).mean(axis=(1, 3))

    def _non_jpeg(self, image: ImageData, profile: str) -> Evidence:
        """Lossless container: look for an earlier JPEG compression (blocking grid, lattice) and blocks that break it."""
        h, w = image.shape
        if profile == "fast":
            return self.evidence(
                score=None,
                skipped=None,
                findings=[
                    Finding(
                        "Not a JPEG file; JPEG-history analysis was not run in the fast profile.",
                        code="jpeg.not_jpeg",
                    )
                ],
                extra={"jpeg": False},
            )
        y = np.asarray(image.gray, dtype=np.float32)
        grid = grid_analysis(y, expected=None)
        compat = jpeg_compatibility(y, image.rgb)
        checkable = compat is not None and compat.valid
        prev = grid.strength >= GRID_NA_MIN or checkable
        extra: dict[str, Any] = {
            "jpeg": False,
            "grid": {
                "phase": list(grid.phase),
                "strength": round(grid.strength, 4),
                "previously_jpeg": bool(prev),
            },
        }
        findings = []
        score = 0.0
        m = np.zeros((h, w), dtype=np.float32)
        rel = np.full((h, w), 0.1, dtype=np.float32)
        if prev:
            ph = compat.phase if checkable else grid.phase
            findings.append(
                Finding(
                    f"Although stored as {image.format}, the image shows an 8x8 JPEG blocking grid (offset "
                    f"{ph[1]}, {ph[0]}): it was JPEG-compressed before.",
                    code="jpeg.previously_compressed",
                    data={"phase": list(ph), "strength": round(grid.strength, 4)},
                )
            )
            gmap = _ramp(grid.off_map, GRID_LOCAL_T0, GRID_LOCAL_T1)
            score = _region_score(gmap, min_area=0.01, max_area=0.5)[0] * 0.8
            m = np.repeat(np.repeat(gmap.astype(np.float32), 8, 0), 8, 1)
            m = np.pad(m, ((0, max(0, h - m.shape[0])), (0, max(0, w - m.shape[1]))), mode="edge")[:h, :w]
            rel[:] = 0.6
        chroma = None
        if prev and image.rgb is not None and image.rgb.ndim == 3:
            chroma = chroma_compatibility(image.rgb, compat.phase if checkable else grid.phase)
        chroma_ok = chroma is not None and chroma.valid
        if checkable or chroma_ok:
            score_c, m_c, rel_c = self._compat_evidence(
                compat if checkable else None,
                chroma if chroma_ok else None,
                compat.phase if checkable else grid.phase,
                (h, w),
                findings,
                extra,
            )
            score = max(score, score_c)
            m = np.maximum(m, m_c)
            rel = np.maximum(rel, rel_c)
        elif compat is not None:
            extra["compatibility"] = {"checkable": False, "informative_modes": compat.n_informative}
        if not prev:
            findings.append(
                Finding(
                    f"Not a JPEG and no trace of earlier JPEG compression; JPEG evidence is not available for this "
                    f"{image.format} image.",
                    code="jpeg.never_compressed",
                )
            )
        gate = map_gate(score)
        m = (m * gate).astype(np.float32)
        extra["map_gate"] = round(gate, 4)
        return self.evidence(score=score, map=m, reliability=rel, findings=findings, extra=extra)

    def _compat_evidence(
        self,
        res: CompatResult | None,
        chroma: ChromaCompat | None,
        phase: tuple[int, int],
        shape: tuple[int, int],
        findings: list[Finding],
        extra: dict[str, Any],
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Score, map and reliability from the block-wise JPEG-compatibility tests of a lossless image: luma
        (``res``) and chroma (``chroma``), either of them None when not checkable, on the luma grid at ``phase``."""
        h, w = shape
        bh, bw = res.miss.shape if res is not None else ((h - phase[0]) // 8, (w - phase[1]) // 8)
        miss = res.miss.astype(np.float32) if res is not None else np.zeros((bh, bw), np.float32)
        if chroma is not None:
            # the chroma planes' off-lattice points, averaged over each luma block (a chroma block spans 1-4 of them)
            cm = chroma.miss[phase[0] : phase[0] + bh * 8, phase[1] : phase[1] + bw * 8]
            nbh, nbw = cm.shape[0] // 8, cm.shape[1] // 8
            miss[:nbh, :nbw] += cm[: nbh * 8, : nbw * 8].reshape(nbh, 8, nbw, 8).mean(axis=(1, 3))
        sm = ndimage.uniform_filter(miss, size=3, mode="nearest")
        block_map = _ramp(sm, COMPAT_T0, COMPAT_T1)
        score, area = _region_score(block_map, min_area=0.004, max_area=0.6)
        flagged = float((block_map > 0.5).mean())
        info: dict[str, Any] = {
            "checkable": True,
            "phase": list(phase),
            "luma_checkable": res is not None,
            "incompatible_fraction": round(flagged, 4),
            "region_area": round(area, 4),
            "score": round(score, 4),
        }
        checked = []
        if res is not None:
            known = res.steps[res.steps >= 2]
            steps = f"steps {int(known.min())}-{int(known.max())}" if known.size else "steps"
            checked.append(f"{res.n_used} luma DCT modes, quantization {steps} estimated from the pixels")
            info.update(
                steps=res.steps.tolist(),
                noise=round(res.sigma, 3),
                informative_modes=res.n_informative,
                modes_used=res.n_used,
            )
        if chroma is not None:
            used = [r.n_used for r in chroma.checked]
            checked.append(f"{sum(used)} chroma DCT modes of the {chroma.subsampling} colour planes")
            info["chroma"] = {
                "subsampling": chroma.subsampling,
                "offset": list(chroma.offset),
                "fit_residual": chroma.fit_residual,
                "modes_used": used,
                "steps": [r.steps.tolist() for r in chroma.checked],
            }
        extra["compatibility"] = info
        what = "; ".join(checked)
        if score > 0.0:
            findings.append(
                Finding(
                    f"{100 * flagged:.1f}% of the 8x8 blocks no longer fit the earlier JPEG compression (checked: "
                    f"{what}): those pixels were changed after the image was last decompressed.",
                    code="jpeg.incompatible_blocks",
                    severity=Severity.STRONG if score >= 0.5 else Severity.WEAK,
                    supports=Supports.MANIPULATED,
                    data={"fraction": round(flagged, 4), "score": round(score, 4)},
                )
            )
        elif flagged > 0.0:
            findings.append(
                Finding(
                    f"{100 * flagged:.1f}% of the 8x8 blocks do not fit the earlier JPEG compression, but they form no "
                    "compact region of plausible size; not counted as evidence.",
                    code="jpeg.incompatible_scattered",
                    data={"fraction": round(flagged, 4)},
                )
            )
        else:
            findings.append(
                Finding(
                    "Every part of the image still fits its earlier JPEG compression block by block: no region was "
                    "changed after decompression (a later resize or full-image filter would hide this).",
                    code="jpeg.compatible",
                )
            )
        cmap = blocks_to_pixels(block_map, phase, shape)
        clipped = res.clipped if res is not None else np.zeros((bh, bw), dtype=bool)
        rel = np.maximum(blocks_to_pixels(np.where(clipped, 0.2, 0.8), phase, shape), 0.1)
        return score, cmap, rel
