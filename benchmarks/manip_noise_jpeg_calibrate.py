"""Fit the image-level score models of the `noise` detector on the CALIBRATION split only.

    python benchmarks/manip_noise_jpeg_calibrate.py --profile default
    python benchmarks/manip_noise_jpeg_calibrate.py --profile fast

Runs the detector (score model ignored) on the calibration split of noise_cases, fits a logistic regression on the
region features, then shifts the intercept so that at most 5% of the calibration authentic images score above 0.5.
Prints the weights to paste into _SCORE_MODELS in src/pixelsleuth/detectors/noise.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).parent))

from manip_noise_jpeg_common import noise_cases  # noqa: E402

from pixelsleuth.detectors.noise import analyze_noise, region_features  # noqa: E402
from pixelsleuth.io.loader import load_image  # noqa: E402

KEYS = ["log_area", "concentration", "dsep", "ssep", "conc2"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="default")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--max-fpr", type=float, default=0.04)
    a = ap.parse_args()
    xs, ys = [], []
    for c in noise_cases("calib", a.n):
        im = load_image(c.data)
        res = analyze_noise(np.asarray(im.gray, dtype=np.float32), a.profile)
        f = region_features(res)
        xs.append([f[k] for k in KEYS])
        ys.append(c.forged)
    x, y = np.array(xs), np.array(ys)
    lr = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(x, y)
    w = lr.coef_[0]
    z = x @ w + lr.intercept_[0]
    # shift so that <= max_fpr of authentic calibration images are above 0
    thr = float(np.quantile(z[~y], 1 - a.max_fpr))
    b = float(lr.intercept_[0] - max(thr, 0.0))
    z2 = x @ w + b
    print(f"authentic above 0.5: {np.mean(z2[~y] > 0):.3f}; forged above 0.5: {np.mean(z2[y] > 0):.3f}")
    print(
        "weights:",
        "{" + ", ".join(f'"{k}": {v:.4f}' for k, v in zip(KEYS, w, strict=True)) + "}",
        f"bias {b:.4f}",
    )


if __name__ == "__main__":
    main()
