"""Synthetic local-forgery benchmark for the resampling and CFA detectors.

Usage: python benchmarks/manip_copymove_resampling_cfa.py [--n 60] [--out file.json]

Photos: the ordinary camera crops (512x512 camera JPEGs, no ColorChecker or flat-field shots) listed in
/work/shared/data/photos/camera/MANIFEST.tsv, odd positions of the name-sorted list (even positions are reserved
for calibration). Seeded per photo.

* resampling: a region (10-25% of the image) is replaced by the same image resized by 1.15-1.6x (or rotated
  5-20 degrees) around the region, saved as PNG; mask = the region. Also with the result recompressed as JPEG q90.
* cfa (real camera traces): a region is replaced by content that lost the demosaicing trace (the same image
  resized by 1.3x); the authentic crop is the negative. Only photos where the detector finds a trace count for
  pixel metrics; the fraction with a trace is reported.
* cfa (simulated Bayer): the photo is downscaled 2x (no trace left), re-mosaiced with an RGGB Bayer pattern and
  bilinearly demosaiced, and a region is pasted from the non-mosaiced version.
Metrics: mean pixel F1 (best threshold and at 0.5) against the region mask, image AUC forged vs authentic, and
false alarms at 0.5; the all-ones map gives the trivial baseline.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from manip_copymove_common import DATA, auc, f1_at, f1_best, load_rgb, wrap  # noqa: E402

from pixelsleuth.detectors.base import Context  # noqa: E402
from pixelsleuth.detectors.cfa import CFADetector  # noqa: E402
from pixelsleuth.detectors.resampling import ResamplingDetector  # noqa: E402


def camera_photos() -> list[Path]:
    man = DATA / "photos" / "camera" / "MANIFEST.tsv"
    out = []
    with open(man, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            note = (row.get("note") or "").lower()
            if "colorchecker" in note or "flat" in note:
                continue
            out.append(DATA / "photos" / "camera" / row["file"])
    return sorted(out)


def region_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    frac = rng.uniform(0.10, 0.25)
    rh = int(np.sqrt(frac * h * w) * rng.uniform(0.8, 1.2))
    rw = int(frac * h * w / max(rh, 1))
    rh, rw = min(rh, h - 8), min(rw, w - 8)
    y0 = int(rng.integers(4, h - rh - 4))
    x0 = int(rng.integers(4, w - rw - 4))
    m = np.zeros((h, w), bool)
    if rng.random() < 0.5:
        m[y0 : y0 + rh, x0 : x0 + rw] = True
    else:
        mm = np.zeros((h, w), np.uint8)
        cv2.ellipse(mm, (x0 + rw // 2, y0 + rh // 2), (rw // 2, rh // 2), 0, 0, 360, 1, -1)
        m = mm > 0
    return m


def resampled_version(rgb: np.ndarray, m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = m.shape
    ys, xs = np.nonzero(m)
    cx, cy = float(xs.mean()), float(ys.mean())
    if rng.random() < 0.6:
        M = cv2.getRotationMatrix2D((cx, cy), 0.0, float(rng.uniform(1.15, 1.6)))
    else:
        M = cv2.getRotationMatrix2D((cx, cy), float(rng.choice([-1, 1]) * rng.uniform(5, 20)), 1.0)
    return cv2.warpAffine(rgb, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def jpeg(rgb: np.ndarray, q: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=q)
    return np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def bayer_bilinear(rgb: np.ndarray) -> np.ndarray:
    """RGGB mosaic + bilinear demosaicing."""
    h, w = rgb.shape[:2]
    f = rgb.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    r_m = ((yy % 2 == 0) & (xx % 2 == 0)).astype(np.float32)
    b_m = ((yy % 2 == 1) & (xx % 2 == 1)).astype(np.float32)
    g_m = 1 - r_m - b_m
    k_g = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float32) / 4
    k_rb = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 4
    out = np.zeros_like(f)
    for c, msk, k in ((0, r_m, k_rb), (1, g_m, k_g), (2, b_m, k_rb)):
        out[..., c] = cv2.filter2D(f[..., c] * msk, -1, k, borderType=cv2.BORDER_REFLECT_101)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def evaluate(det, pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]], ctx: Context) -> dict:
    rows = []
    for forged, authentic, gt in pairs:
        ev_f = det.run(wrap(forged), ctx)
        ev_a = det.run(wrap(authentic), ctx)
        m = ev_f.map if ev_f.map is not None else np.zeros(gt.shape, np.float32)
        rows.append(
            {
                "score_f": ev_f.score,
                "score_a": ev_a.score,
                "f1_best": f1_best(m, gt),
                "f1_05": f1_at(m >= 0.5, gt),
                "f1_allones": f1_at(np.ones_like(gt), gt),
            }
        )
    scored = [r for r in rows if r["score_f"] is not None and r["score_a"] is not None]
    return {
        "n": len(rows),
        "n_scored": len(scored),
        "pixel_f1_best": float(np.mean([r["f1_best"] for r in rows])) if rows else float("nan"),
        "pixel_f1_at_0.5": float(np.mean([r["f1_05"] for r in rows])) if rows else float("nan"),
        "baseline_all_ones_f1": float(np.mean([r["f1_allones"] for r in rows])) if rows else float("nan"),
        "image_auc": auc([r["score_f"] for r in scored], [r["score_a"] for r in scored]),
        "detected_at_0.5": float(np.mean([r["score_f"] >= 0.5 for r in scored])) if scored else float("nan"),
        "false_alarm_at_0.5": float(np.mean([r["score_a"] >= 0.5 for r in scored]))
        if scored
        else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--split", default="test", choices=["train", "test"])
    ap.add_argument("--out", default="/tmp/manip_copymove_resampling_cfa.json")
    args = ap.parse_args()
    files = camera_photos()
    files = (files[0::2] if args.split == "train" else files[1::2])[: args.n]
    ctx = Context(profile="default")
    res_png, res_jpg, cfa_real, cfa_sim = [], [], [], []
    cfa_det = CFADetector()
    n_trace = 0
    for k, path in enumerate(files):
        rgb = load_rgb(path)
        h, w = rgb.shape[:2]
        rng = np.random.default_rng(5000 + k)
        m = region_mask(h, w, rng)
        rs = resampled_version(rgb, m, rng)
        forged = rgb.copy()
        forged[m] = rs[m]
        res_png.append((forged, rgb, m))
        res_jpg.append((jpeg(forged, 90), jpeg(rgb, 90), m))
        # CFA, real traces
        ev = cfa_det.run(wrap(rgb), ctx)
        if ev.score is not None:
            n_trace += 1
            up = cv2.resize(rgb, None, fx=1.3, fy=1.3, interpolation=cv2.INTER_LINEAR)[:h, :w]
            f2 = rgb.copy()
            f2[m] = up[m]
            cfa_real.append((f2, rgb, m))
        # CFA, simulated Bayer
        small = cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        mos = bayer_bilinear(small)
        m2 = m[: small.shape[0] * 2 : 2, : small.shape[1] * 2 : 2]
        f3 = mos.copy()
        f3[m2] = small[m2]
        cfa_sim.append((f3, mos, m2))
    out = {
        "files": [str(p.relative_to(DATA)) for p in files],
        "resampling_png": evaluate(ResamplingDetector(), res_png, ctx),
        "resampling_jpeg90": evaluate(ResamplingDetector(), res_jpg, ctx),
        "cfa_real_trace_fraction": n_trace / max(len(files), 1),
        "cfa_real": evaluate(cfa_det, cfa_real, ctx),
        "cfa_simulated_bayer": evaluate(cfa_det, cfa_sim, ctx),
    }
    print(json.dumps({k: v for k, v in out.items() if k != "files"}, indent=1))
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
