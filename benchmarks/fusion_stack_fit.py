"""Fit the fused map's pixel stack (``map_stack`` in src/pixelsleuth/fusion/manip_calibration.json) and compare it
with the map without it, on the caches of ``benchmarks/fusion_cache.py`` (maps at 1/4 size; docs/bench/fusion.md):

    python benchmarks/fusion_fit.py --train /tmp/H/cache/fit --fit ...        # first: trusts, gate, noisy-OR
    python benchmarks/fusion_stack_fit.py --train /tmp/H/cache/fit --test /tmp/H/cache/test --write

The stack (:func:`pixelsleuth.fusion.fuse.stack_map`) is a per-pixel logistic regression. Its features, per
detector: the map times its reliability (zeros where it gave none), that map's box means over 5/128 and 17/128 of the
long side, and the map times the detector's image score; then the base map (the noisy-OR of ``fusion_fit.py``) and
its two box means. It is fitted on ``--pixels`` random pixels of every fit image plus up to as many tampered ones
(forgeries and authentic controls; classes weighted equally; seeded), with every weight >= 0 (``--signed`` lifts
that). Pixels are ranked by the larger of the stack's probability and the base map (``--no-keep-base``: by the
stack alone). It only ranks pixels: the fused map keeps the
base map's count of pixels >= 0.5 (:func:`pixelsleuth.fusion.fuse.match_area`), so image scores, labels and the
flagged area do not change. Because the stack reads the base map, refit it whenever ``fusion_fit.py --fit`` ran
(that step writes the calibration without a stack).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import fusion_fit as F  # noqa: E402

from pixelsleuth.fusion.fuse import (  # noqa: E402
    CALIBRATION_FILE,
    STACK_TERMS,
    _combine,
    _manipulation_items,
    _parse_stack,
    _stack_maps,
    base_map,
    parse_calibration,
    stack_features,
    stack_map,
)

WINDOWS = (5 / 128, 17 / 128)
SEED = 20261202


def _base(r: dict[str, Any], cal: dict[str, Any]) -> np.ndarray:
    m = base_map(r["evs"], r["mask"].shape, None, cal)
    return np.zeros(r["mask"].shape, np.float32) if m is None else m


def logistic_nonneg(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Class-balanced, L2-penalised logistic regression (sklearn's objective: ``c`` * weighted log-loss + |w|^2 / 2)
    with every weight >= 0 and a free intercept (L-BFGS-B)."""
    from scipy.optimize import minimize

    n, f = x.shape
    cw = np.where(y == 1, n / (2.0 * max(1, int(y.sum()))), n / (2.0 * max(1, n - int(y.sum()))))
    ys = 2.0 * y - 1.0

    def obj(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:f], theta[f]
        m = ys * (x @ w + b)
        loss = np.logaddexp(0.0, -m)
        g = -ys * cw * (1.0 / (1.0 + np.exp(np.clip(m, -60, 60))))
        return c * float(cw @ loss) + 0.5 * float(w @ w), np.concatenate([c * (x.T @ g) + w, [c * g.sum()]])

    res = minimize(obj, np.zeros(f + 1), jac=True, method="L-BFGS-B", bounds=[(0, None)] * f + [(None, None)])
    return res.x[:f], float(res.x[f])


def fit(
    recs: list[dict[str, Any]], cal: dict[str, Any], pixels: int, c: float, nonneg: bool = False
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(SEED)
    xs, ys = [], []
    for r in recs:
        x = stack_features(_stack_maps(r["evs"], r["mask"].shape, list(F.MANIP)), _base(r, cal), list(WINDOWS))
        y = r["mask"].ravel().astype(np.int8) if r["label"] == 1 else np.zeros(len(x), np.int8)
        pick = rng.choice(len(x), min(pixels, len(x)), replace=False)
        if r["label"] == 1:  # the tampered pixels of small masks count, not only those of the random draw
            pos = np.nonzero(y)[0]
            pick = np.union1d(pick, pos[rng.permutation(len(pos))[:pixels]])
        xs.append(x[pick])
        ys.append(y[pick])
    x, y = np.concatenate(xs), np.concatenate(ys)
    if nonneg:
        coef, icpt = logistic_nonneg(x.astype(np.float64), y.astype(np.float64), c)
    else:
        lr = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x, y)
        coef, icpt = lr.coef_[0], float(lr.intercept_[0])
    print(f"fitted on {len(y)} pixels ({int(y.sum())} tampered) of {len(recs)} images")
    return {
        "detectors": list(F.MANIP),
        "terms": list(STACK_TERMS),
        "windows": list(WINDOWS),
        "w": [round(float(v), 6) for v in coef],
        "b": round(float(icpt), 6),
    }


def rows(recs: list[dict[str, Any]], cal: dict[str, Any], stack: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for r in recs:
        base = _base(r, cal)
        m = base if stack is None else stack_map(r["evs"], base, stack)
        out.append(F.map_row(r, _combine(_manipulation_items(r["evs"], {}, cal))[0], m))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--test", type=Path, action="append", default=[])
    ap.add_argument("--pixels", type=int, default=2000)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--calibration", type=Path, default=CALIBRATION_FILE, help="read, and with --write updated")
    ap.add_argument("--write", action="store_true", help="store the fitted stack in --calibration")
    ap.add_argument(
        "--signed",
        action="store_true",
        help="let weights be negative (the first fit of 2026-12-02; it learned to distrust copymove's map and lost "
        "0.15 F1-best on COVERAGE, docs/bench/fusion.md); default: every weight >= 0",
    )
    ap.add_argument(
        "--no-keep-base",
        action="store_true",
        help="rank pixels by the stack alone (second variant of 2026-12-02: COVERAGE -0.03); default: by the larger "
        "of the stack's probability and the base map, so the stack can lift a pixel but never lower it",
    )
    a = ap.parse_args()
    data = json.loads(a.calibration.read_text(encoding="utf-8"))
    cal = parse_calibration({k: v for k, v in data.items() if k != "map_stack"})
    st = fit(F.load(a.train), cal, a.pixels, a.C, nonneg=not a.signed)
    st["keep_base"] = not a.no_keep_base
    names = [f"{d}:{t}" for d in st["detectors"] for t in STACK_TERMS] + ["base", "base:box_small", "base:box_large"]
    print("weights:", ", ".join(f"{n} {v:+.2f}" for n, v in zip(names, st["w"], strict=True)))
    stack = _parse_stack(st)
    assert stack is not None
    if a.write:
        data["map_stack"] = {"_about": "pixel stack fitted by benchmarks/fusion_stack_fit.py", **st}
        tmp = a.calibration.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(a.calibration)
        print(f"wrote map_stack to {a.calibration}")
    for t in a.test:
        recs = F.load(t)
        base, new = F.summary(rows(recs, cal, None)), F.summary(rows(recs, cal, stack))
        print(f"\n### {t}: {base['n_forged']} forgeries, {base['n_auth']} controls\n")
        print("| type | n | F1-best without stack | with stack | F1@0.5 without | with |")
        print("|---|---|---|---|---|---|")
        for ty, p in base["per_type"].items():
            q = new["per_type"][ty]
            print(f"| {ty} | {p['n']} | {p['f1_best']:.2f} | {q['f1_best']:.2f} | {p['f1']:.2f} | {q['f1']:.2f} |")
        print("\n| map | mean F1-best | mean F1@0.5 | types >= 0.5 | authentic mean flagged area |")
        print("|---|---|---|---|---|")
        for name, s in (("without stack", base), ("with stack", new)):
            n50 = sum(p["f1_best"] >= 0.5 for p in s["per_type"].values())
            print(
                f"| {name} | {s['mean_f1_best']:.3f} | {s['mean_f1']:.3f} | {n50} of {len(s['per_type'])} "
                f"| {100 * s['fa_area']:.2f}% |"
            )


if __name__ == "__main__":
    main()
