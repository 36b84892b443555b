"""The `jpeg` detector alone, per forgery type and file format, from fusion caches (docs/bench/noise_jpeg.md).

    python benchmarks/jpeg_compat_eval.py --cache /tmp/H/cache/test [--before /tmp/H/cache-before-compat/test]

The caches are written by benchmarks/fusion_cache.py (maps at 1/4 size). PNG forgeries are decoded camera JPEGs,
edited and saved losslessly, where the JPEG-compatibility test applies; JPEG forgeries were saved at quality 90.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from pixelsleuth.bench.metrics import pixel_f1, pixel_f1_best


def table(
    cache: Path,
) -> tuple[dict[tuple[str, str], list[tuple[float, float, float]]], dict[str, list[float]]]:
    items = json.loads((cache / "items.json").read_text())
    per: dict[tuple[str, str], list[tuple[float, float, float]]] = defaultdict(list)
    auth: dict[str, list[float]] = defaultdict(list)
    for it in items:
        name = f"{Path(it['set']).name}__{it['id']}" if it.get("set") else it["id"]
        f = cache / f"{name}.npz"
        if not f.exists():
            continue
        z = np.load(f)
        m, gt = z["jpeg_map"], z["mask"] > 0.5
        fmt = it.get("format", "?")
        if it["label"] == 1 and gt.any():
            per[(it["type"], fmt)].append(
                (pixel_f1_best(m, gt)[0], pixel_f1(m, gt), pixel_f1_best(np.ones_like(m), gt)[0])
            )
        elif it["label"] == 0:
            auth[fmt].append(float((m >= 0.5).mean()))
    return per, auth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument(
        "--before", type=Path, help="a cache made with the previous detector, for a 'before' column"
    )
    a = ap.parse_args()
    now, auth = table(a.cache)
    before = table(a.before)[0] if a.before else {}
    print("| type | format | n | jpeg F1-best | jpeg F1@0.5 | before F1-best | all-ones F1 |")
    print("|---|---|---|---|---|---|---|")
    for key in sorted(now):
        v = np.array(now[key])
        b = f"{np.mean([x[0] for x in before[key]]):.2f}" if key in before else "-"
        print(
            f"| {key[0]} | {key[1]} | {len(v)} | {v[:, 0].mean():.2f} | {v[:, 1].mean():.2f} | {b} | {v[:, 2].mean():.2f} |"
        )
    for fmt in ("PNG", "JPEG"):
        rows = [x for k, xs in now.items() if k[1] == fmt for x in xs]
        if rows:
            v = np.array(rows)
            print(
                f"\n{fmt} forgeries: mean F1-best {v[:, 0].mean():.3f}, F1@0.5 {v[:, 1].mean():.3f}, all-ones {v[:, 2].mean():.3f}"
            )
    for fmt, xs in sorted(auth.items()):
        x = np.array(xs)
        print(
            f"authentic {fmt}: n {len(x)}, mean flagged area {100 * x.mean():.2f}%, images with > 1% flagged {(x > 0.01).mean():.3f}"
        )


if __name__ == "__main__":
    main()
