"""Fit the copy-move detector's candidate calibration (logistic weights in pixelsleuth/detectors/copymove.py).

Usage:
  python benchmarks/manip_copymove_coverage.py --ids 1-50 --out /tmp/cm_cov_cal.json
  python benchmarks/manip_copymove_synth.py --split train --n 60 --out /tmp/cm_syn_cal.json
  python benchmarks/manip_copymove_calibrate.py /tmp/cm_cov_cal.json /tmp/cm_syn_cal.json

Calibration data: COVERAGE pairs 1-50 (tampered = 1, original = 0) and the synthetic 'train' split (forged = 1,
authentic = 0, weight 0.5). The image score is the maximum candidate probability, so the fit maximises the
image-level likelihood of that maximum (Nelder-Mead, small L2 penalty). COVERAGE pairs 51-100 and the synthetic
'test' split are never used here. The features stored by the benchmarks are the detector's own
``extra['features']`` and do not depend on the weights being fitted.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from scipy.optimize import minimize


def image_score(feats: list[list[float]] | None, w: np.ndarray, b: float) -> float:
    if not feats:
        return 0.0
    z = np.asarray(feats, float) @ w + b
    return float(np.max(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))))


def main() -> None:
    cov = json.load(open(sys.argv[1]))["rows"]
    syn = json.load(open(sys.argv[2]))["rows"]
    data = [(r["feat_t"], 1, 1.0) for r in cov if r["id"] <= 50] + [
        (r["feat_o"], 0, 1.0) for r in cov if r["id"] <= 50
    ]
    data += [(r["feat_f"], 1, 0.5) for r in syn] + [(r["feat_a"], 0, 0.5) for r in syn]
    n_feat = 5

    def loss(x: np.ndarray) -> float:
        w, b = x[:-1], x[-1]
        total = 0.0
        for feats, y, wt in data:
            p = min(max(image_score(feats, w, b), 1e-4), 1 - 1e-4)
            total -= wt * (y * np.log(p) + (1 - y) * np.log(1 - p))
        return total + 0.01 * float(np.sum(w**2))

    x0 = np.zeros(n_feat + 1)
    x0[:-1] = 1.0
    res = minimize(loss, x0, method="Nelder-Mead", options={"maxiter": 8000, "xatol": 1e-4, "fatol": 1e-4})
    w, b = res.x[:-1], res.x[-1]
    print(
        json.dumps({"_CAL_W": [round(float(v), 3) for v in w], "_CAL_B": round(float(b), 3), "loss": res.fun})
    )


if __name__ == "__main__":
    main()
