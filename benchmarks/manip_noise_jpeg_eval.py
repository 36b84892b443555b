"""Evaluate the `noise` or `jpeg` detector on seeded synthetic forgeries (see manip_noise_jpeg_common.py).

    python benchmarks/manip_noise_jpeg_eval.py --detector noise --set noise --split test --profile default
    python benchmarks/manip_noise_jpeg_eval.py --detector jpeg --set dq --split test

Writes one JSON line per image to --out (default /tmp/manip_<detector>_<set>_<split>_<profile>.jsonl) and prints a
summary table per case kind, beside the all-ones-map / constant-score baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from manip_noise_jpeg_common import (  # noqa: E402
    DQ_LOWER,
    all_ones_f1,
    best_f1,
    dq_cases,
    f1_at,
    inverse_cases,
    noise_cases,
    pixel_auc,
)

from pixelsleuth.detectors.base import Context  # noqa: E402
from pixelsleuth.detectors.registry import get_detector  # noqa: E402
from pixelsleuth.io.loader import load_image  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--detector", choices=["noise", "jpeg"], required=True)
    ap.add_argument("--set", choices=["noise", "dq", "dqlower", "inv", "na"], required=True)
    ap.add_argument("--split", choices=["calib", "test"], default="test")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--n", type=int, default=None, help="hosts to use (default: all in the split)")
    ap.add_argument(
        "--post", default=None, help="perturbation applied to the final file (e.g. jpeg75, social)"
    )
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = (
        a.out
        or f"/tmp/manip_{a.detector}_{a.set}_{a.split}_{a.profile}{'_' + a.post if a.post else ''}.jsonl"
    )
    det = get_detector(a.detector)()
    ctx = Context(profile=a.profile)
    if a.set == "noise":
        cases = noise_cases(a.split, a.n)
    elif a.set == "dq":
        cases = dq_cases(a.split, a.n)
    elif a.set == "dqlower":
        cases = dq_cases(a.split, a.n, pairs=DQ_LOWER)
    else:
        cases = inverse_cases(a.split, a.n, aligned=a.set == "inv")
    rows = []
    with open(out, "w") as f:
        for c in cases:
            data = c.data
            mask = c.mask
            if a.post:
                from pixelsleuth.bench import perturbations as P

                img = np.asarray(load_image(data).rgb)
                data = P.apply_encoded(a.post, img, np.random.default_rng(1))
                if mask is not None and P.get(a.post).geometric:
                    mask = P.apply_to_mask(a.post, mask, np.random.default_rng(1)).astype(bool)
            im = load_image(data)
            t0 = time.perf_counter()
            ev = det.run(im, ctx)
            dt = time.perf_counter() - t0
            r = {
                "name": c.name,
                "kind": c.kind,
                "forged": c.forged,
                "score": ev.score,
                "skipped": ev.skipped,
                "s_per_mp": dt / im.megapixels,
                "extra": ev.extra,
            }
            if ev.map is not None:
                r["flagged"] = float((ev.map > 0.5).mean())
                if mask is not None and mask.shape == ev.map.shape:
                    r["auc"] = pixel_auc(ev.map, mask)
                    r["best_f1"] = best_f1(ev.map, mask)
                    r["f1_05"] = f1_at(ev.map, mask, 0.5)
                    r["ones_f1"] = all_ones_f1(mask)
            f.write(json.dumps(r) + "\n")
            rows.append(r)
    summarize(rows)
    print(f"rows -> {out}")


def summarize(rows: list[dict]) -> None:
    from sklearn.metrics import roc_auc_score

    by = defaultdict(list)
    for r in rows:
        by[r["kind"].rsplit("_", 0)[0]].append(r)
    print(
        f"{'kind':16s} {'n':>4s} {'score>0.5':>9s} {'flag%':>6s} {'pixAUC':>7s} {'bestF1':>7s} {'F1@.5':>6s} "
        f"{'onesF1':>6s} {'s/MP':>6s}"
    )
    for k in sorted(by):
        rs = by[k]
        sc = np.array([r["score"] if r["score"] is not None else 0.0 for r in rs])

        def m(key: str, rs: list[dict] = rs) -> float:
            v = [r[key] for r in rs if key in r and r[key] == r[key]]
            return float(np.mean(v)) if v else float("nan")

        print(
            f"{k:16s} {len(rs):4d} {np.mean(sc > 0.5):9.3f} {100 * m('flagged'):6.2f} {m('auc'):7.3f} "
            f"{m('best_f1'):7.3f} {m('f1_05'):6.3f} {m('ones_f1'):6.3f} {m('s_per_mp'):6.3f}"
        )
    y = np.array([r["forged"] for r in rows])
    s = np.array([r["score"] if r["score"] is not None else 0.0 for r in rows])
    if y.any() and (~y).any():
        print(
            f"image-level AUC forged vs authentic: {roc_auc_score(y, s):.3f}; "
            f"FPR@0.5 {np.mean(s[~y] > 0.5):.3f}; TPR@0.5 {np.mean(s[y] > 0.5):.3f}"
        )


if __name__ == "__main__":
    main()
