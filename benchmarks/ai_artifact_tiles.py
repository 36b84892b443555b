"""How much the fast profile's 2x2 tile grid costs the artifact detector, against the default 3x3 grid.

    python benchmarks/ai_artifact_tiles.py --data ../shared/data --n 80

Scores the first N images of each generator folder and 2N real photos (camera crops and web photos, alternately)
as stored, with both grids, and reports image-level AUC (generated = positive) and mean seconds per image. This is
an in-sample check of the shipped model (it saw some of these images in training), meant only to compare the two
grids with each other; the leave-one-generator-out numbers are in docs/bench/ai_generated.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pixelsleuth.bench.metrics import roc_auc
from pixelsleuth.detectors.ai_artifact import AIArtifact
from pixelsleuth.detectors.base import Context
from pixelsleuth.io import load_image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--n", type=int, default=80)
    a = ap.parse_args()
    gen = [p for g in ("dmin", "ldif", "disco") for p in sorted((a.data / "aigen" / g).glob("*.png"))[: a.n]]
    cams = sorted((a.data / "photos" / "camera").glob("*.jpg"))
    web = sorted((a.data / "photos" / "web").glob("*.JPEG"))
    real = [p for pair in zip(cams, web, strict=False) for p in pair][: 2 * a.n]
    files = [(p, 1) for p in gen] + [(p, 0) for p in real]
    det = AIArtifact()
    rows = []
    for profile in ("fast", "default"):
        scores, labels, secs = [], [], []
        for p, y in files:
            im = load_image(p.read_bytes())
            t0 = time.perf_counter()
            ev = det.run(im, Context(profile=profile))
            secs.append(time.perf_counter() - t0)
            scores.append(ev.score)
            labels.append(y)
        auc = roc_auc(np.asarray(scores), np.asarray(labels))
        rows.append(
            f"| {profile} | {sum(labels)} / {len(labels) - sum(labels)} | {auc:.3f} | {np.mean(secs):.3f} |"
        )
    print(
        "| profile (grid) | generated / real | AUC | mean s / image |\n|---|---|---|---|\n" + "\n".join(rows)
    )


if __name__ == "__main__":
    main()
