"""Harness benchmark: every registered manipulation detector, fusion and the trivial baseline on
(1) a synthetic held-out test set made by ``pixelsleuth synth`` from the ``test`` split of the shared photos and
(2) COVERAGE, clean and under a few perturbations. Seeded and reproducible; writes one folder per run.

    python benchmarks/bench_harness.py --data /work/shared/data --out /tmp/bench-harness [--stage synth|coverage|all]

Equivalent CLI (what this script runs):

    pixelsleuth synth --src DATA/photos/camera --src DATA/photos/bsds500 --src DATA/photos/web \
        --out OUT/synth_test_png --n 240 --seed 2026 --split test --format png
    pixelsleuth bench run --dataset OUT/synth_test_png --out OUT/synth_clean
    pixelsleuth bench run --dataset OUT/synth_test_png --limit 60 --seed 1 \
        --perturb jpeg95,jpeg85,jpeg75,jpeg60,resize0.5,resize0.75,blur1,noise5,social \
        --out OUT/synth_perturbed
    pixelsleuth bench run --dataset DATA/forgery/coverage --kind coverage --seed 1 \
        --perturb jpeg75 --out OUT/coverage
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pixelsleuth.bench.datasets import load_dataset
from pixelsleuth.bench.report import write_report
from pixelsleuth.bench.runner import run_benchmark
from pixelsleuth.bench.synth import synthesize

SYNTH_SEED = 2026
SYNTH_N = 240
PERTURB_SYNTH = [
    "jpeg95",
    "jpeg85",
    "jpeg75",
    "jpeg60",
    "resize0.5",
    "resize0.75",
    "blur1",
    "noise5",
    "social",
]
PERTURB_COVERAGE = ["jpeg75"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench-harness"))
    ap.add_argument("--stage", default="all", choices=["synth", "synth-perturbed", "coverage", "all"])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--perturbed-limit", type=int, default=60)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    syn = a.out / "synth_test_png"
    t0 = time.time()
    if a.stage in ("synth", "synth-perturbed", "all"):
        if not (syn / "manifest.jsonl").exists():
            photos = [a.data / "photos" / d for d in ("camera", "bsds500", "web")]
            synthesize(photos, syn, n=SYNTH_N, seed=SYNTH_SEED, split="test", fmt="png")
        if a.stage in ("synth", "all"):
            ds = load_dataset(syn)
            res = run_benchmark(ds, workers=a.workers)
            print(*write_report(res, a.out / "synth_clean"), sep="\n")
        if a.stage in ("synth-perturbed", "all"):
            ds = load_dataset(syn, limit=a.perturbed_limit)
            res = run_benchmark(ds, perturbations=PERTURB_SYNTH, workers=a.workers, seed=1)
            print(*write_report(res, a.out / "synth_perturbed"), sep="\n")
    if a.stage in ("coverage", "all"):
        ds = load_dataset(a.data / "forgery" / "coverage", kind="coverage")
        res = run_benchmark(ds, perturbations=PERTURB_COVERAGE, workers=a.workers, seed=1)
        print(*write_report(res, a.out / "coverage"), sep="\n")
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
