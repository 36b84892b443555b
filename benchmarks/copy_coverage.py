"""COVERAGE: does each tampered image find its original at rank 1, and does the aligned difference map mark the
forged region? (pixel F1 of map > 0.5 vs mask/<n>forged.png, per image, then averaged)

    python benchmarks/copy_coverage.py --out /tmp/copy_coverage.json

The index holds the 100 COVERAGE originals (image/<n>.png) plus the 407 AI-generated distractors of copy_common.
Baseline: an all-ones map (every pixel "changed") scored the same way.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import copy_common as C  # noqa: E402

from pixelsleuth.bench import perturbations as P  # noqa: E402
from pixelsleuth.detectors.provenance import manipulation_score  # noqa: E402
from pixelsleuth.provenance.index import ReferenceIndex  # noqa: E402
from pixelsleuth.provenance.search import search  # noqa: E402

COV = C.DATA / "forgery" / "coverage"


def f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float((pred & truth).sum())
    return 2 * tp / max(1.0, float(pred.sum() + truth.sum()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index-dir", type=Path, default=Path("/tmp/copy_bench/coverage_index"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/copy_coverage.json"))
    ap.add_argument("--no-distractors", action="store_true")
    args = ap.parse_args()
    ids = sorted(int(p.stem) for p in (COV / "image").glob("*.png") if p.stem.isdigit())
    if args.index_dir.exists():
        shutil.rmtree(args.index_dir)
    ix = ReferenceIndex.create(args.index_dir)
    t0 = time.perf_counter()
    ref_of = {}
    for n in ids:
        a = np.asarray(Image.open(COV / "image" / f"{n}.png").convert("RGB"))
        ref_of[n] = ix.add(a, f"coverage/{n}.png", f"cov{n}")
    if not args.no_distractors:
        for rel in C.data_lists()["distractors"]:
            ix.add(C.load(rel), rel, rel, thumbnail=False)
    ix.save_snapshot()
    build_s = time.perf_counter() - t0
    rows = []
    for n in ids:
        q = np.asarray(Image.open(COV / "image" / f"{n}t.png").convert("RGB"))
        mask = np.asarray(Image.open(COV / "mask" / f"{n}forged.png").convert("L")) > 127
        if mask.shape != q.shape[:2]:
            mask = (
                cv2.resize(mask.astype(np.uint8), (q.shape[1], q.shape[0]), interpolation=cv2.INTER_NEAREST)
                > 0
            )
        t = time.perf_counter()
        res = search(ix, q, top_k=3, localize=True)
        ms = 1000 * (time.perf_counter() - t)
        best = res.best
        rank1 = best is not None and best.ref.id == ref_of[n]
        m = (
            best.difference.map
            if (rank1 and best.difference is not None)
            else np.zeros(q.shape[:2], np.float32)
        )
        frac = best.difference.changed_fraction if (rank1 and best.difference is not None) else 0.0
        # control: the untouched original, downscaled 0.75x and re-saved as JPEG 85 (should score < 0.5)
        orig = np.asarray(Image.open(COV / "image" / f"{n}.png").convert("RGB"))
        ctrl = search(ix, P.jpeg(P.resize(orig, 0.75), 85), top_k=1, localize=True).best
        ctrl_ok = ctrl is not None and ctrl.ref.id == ref_of[n] and ctrl.difference is not None
        ctrl_frac = ctrl.difference.changed_fraction if ctrl_ok else 0.0
        rows.append(
            {
                "n": n,
                "score": manipulation_score(frac, best.copy_probability) if rank1 else 0.0,
                "control_rank1": bool(ctrl_ok),
                "control_changed": ctrl_frac,
                "control_score": manipulation_score(ctrl_frac, ctrl.copy_probability) if ctrl_ok else 0.0,
                "rank1": bool(rank1),
                "p": best.copy_probability if best else 0.0,
                "f1": f1(m > 0.5, mask),
                "f1_all_ones": f1(np.ones_like(mask), mask),
                "mask_frac": float(mask.mean()),
                "pred_frac": float((m > 0.5).mean()),
                "ms": ms,
            }
        )
    out = {
        "command": " ".join(sys.argv),
        "n": len(rows),
        "index_refs": len(ix),
        "build_s": build_s,
        "rank1_rate": float(np.mean([r["rank1"] for r in rows])),
        "confirmed_rate": float(np.mean([r["rank1"] and r["p"] >= 0.5 for r in rows])),
        "pixel_f1_mean": float(np.mean([r["f1"] for r in rows])),
        "pixel_f1_median": float(np.median([r["f1"] for r in rows])),
        "share_f1_ge_0.8": float(np.mean([r["f1"] >= 0.8 for r in rows])),
        "baseline_all_ones_f1_mean": float(np.mean([r["f1_all_ones"] for r in rows])),
        "search_ms_p50": float(np.median([r["ms"] for r in rows])),
        "detector_score_ge_0.5_tampered": float(np.mean([r["score"] >= 0.5 for r in rows])),
        "detector_score_ge_0.5_control": float(np.mean([r["control_score"] >= 0.5 for r in rows])),
        "control_rank1_rate": float(np.mean([r["control_rank1"] for r in rows])),
    }
    args.out.write_text(json.dumps({"summary": out, "rows": rows}, indent=1))
    print(json.dumps(out, indent=1))
    ix.close()


if __name__ == "__main__":
    main()
