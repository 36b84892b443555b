"""ELA on the 17 CASIA v2 tampered samples (real forgeries with masks); a sanity check, far too small to tune on.

Reports per file the score and the IoU of (map >= 0.5) with the mask, and the mean IoU that an all-ones map gets.
There are no untouched counterparts here, so no AUC; see ela_synthetic.py for that.

    python benchmarks/ela_casia.py --profile default
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.ela import ElaDetector
from pixelsleuth.io import load_image

DATA = Path("/work/shared/data/forgery/casia2_samples")


def iou(a: np.ndarray, b: np.ndarray) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="default")
    args = ap.parse_args()
    det, ctx = ElaDetector(), Context(profile=args.profile)
    rows = []
    for p in sorted(DATA.iterdir()):
        if p.suffix.lower() not in (".jpg", ".tif") or p.stem.endswith("_gt"):
            continue
        gt = DATA / f"{p.stem}_gt.png"
        if not gt.exists():
            continue
        img = load_image(p)
        mask = np.asarray(Image.open(gt).convert("L")) > 127
        ev = det.run(img, ctx)
        if ev.map is None or mask.shape != ev.map.shape:
            continue
        rows.append(
            {
                "file": p.name,
                "format": img.format,
                "score": round(float(ev.score or 0.0), 3),
                "iou": round(iou(ev.map >= 0.5, mask), 3),
                "iou_all_ones": round(iou(np.ones_like(mask), mask), 3),
            }
        )
    for fmt in ("JPEG", "TIFF"):
        sub = [r for r in rows if r["format"] == fmt]
        if not sub:
            continue
        print(
            json.dumps(
                {
                    "format": fmt,
                    "files": len(sub),
                    "score>=0.5": round(float(np.mean([r["score"] >= 0.5 for r in sub])), 3),
                    "mean_iou_map": round(float(np.mean([r["iou"] for r in sub])), 3),
                    "mean_iou_all_ones": round(float(np.mean([r["iou_all_ones"] for r in sub])), 3),
                }
            )
        )
    print(json.dumps(rows, indent=0))


if __name__ == "__main__":
    main()
