"""Speed of the copy-move, resampling and CFA detectors (seconds per megapixel).

Usage: python benchmarks/manip_copymove_speed.py [--n 8] [--mp 1.0]

Images: the first ``n`` JPEGs of /work/shared/data/photos/full (name order), resized to about ``mp`` megapixels
(INTER_AREA). Each detector runs once per image after one warm-up call. Reports wall-clock and process CPU time
(all threads) per megapixel, with the 1-minute load average before and after: on a shared machine wall time
includes waiting for other jobs, so the CPU figure is the better estimate of cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from manip_copymove_common import DATA, load_rgb, wrap  # noqa: E402

from pixelsleuth.detectors.base import Context  # noqa: E402
from pixelsleuth.detectors.cfa import CFADetector  # noqa: E402
from pixelsleuth.detectors.copymove import CopyMoveDetector  # noqa: E402
from pixelsleuth.detectors.resampling import ResamplingDetector  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--mp", type=float, default=1.0)
    args = ap.parse_args()
    files = sorted(p for p in (DATA / "photos" / "full").iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))[
        : args.n
    ]
    imgs = []
    for p in files:
        rgb = load_rgb(p)
        s = (args.mp * 1e6 / (rgb.shape[0] * rgb.shape[1])) ** 0.5
        imgs.append(wrap(cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)))
    load0 = os.getloadavg()[0]
    out: dict = {"files": [p.name for p in files], "load_before": load0}
    for name, det, profile in (
        ("copymove(default)", CopyMoveDetector(), "default"),
        ("copymove(thorough)", CopyMoveDetector(), "thorough"),
        ("resampling", ResamplingDetector(), "default"),
        ("cfa", CFADetector(), "default"),
    ):
        ctx = Context(profile=profile)
        det.run(imgs[0], ctx)
        wall = cpu = mp = 0.0
        for im in imgs:
            t0, c0 = time.perf_counter(), time.process_time()
            det.run(im, ctx)
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            mp += im.megapixels
        out[name] = {"wall_s_per_mp": round(wall / mp, 3), "cpu_s_per_mp": round(cpu / mp, 3)}
        print(name, out[name], flush=True)
    out["load_after"] = os.getloadavg()[0]
    out["mean_megapixels"] = float(np.mean([im.megapixels for im in imgs]))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
