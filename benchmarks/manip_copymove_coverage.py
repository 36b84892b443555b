"""COVERAGE benchmark for the copy-move detector.

Usage: python benchmarks/manip_copymove_coverage.py [--profile default] [--out results.json] [--ids 1-100]

Pixel metrics on each tampered image ``Nt.png`` against the union of ``mask/Ncopy.png`` (source) and
``mask/Nforged.png`` (pasted target): the detector marks both, as in the copy-move literature's
source+target protocol; the target-only numbers are reported too. Image level: AUC of ``Nt`` (positive) vs ``N``
(negative), and the false-alarm rate of originals at 0.5. IDs whose masks do not match the image size in the
original release (41, 48, 55-59, 61, 95) are excluded from pixel metrics and listed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from manip_copymove_common import DATA, auc, f1_at, f1_best, load_rgb, wrap  # noqa: E402

from pixelsleuth.detectors.base import Context  # noqa: E402
from pixelsleuth.detectors.copymove import CopyMoveDetector  # noqa: E402


def parse_ids(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="default")
    ap.add_argument("--ids", default="1-100")
    ap.add_argument("--out", default="/tmp/manip_copymove_coverage.json")
    ap.add_argument("--jpeg", action="store_true", help="use the jpg_80 tampered images")
    ap.add_argument("--opt", action="append", default=[], help="detector option key=value (JSON value)")
    args = ap.parse_args()
    root = DATA / "forgery" / "coverage"
    det = CopyMoveDetector()
    opts = {kv.split("=", 1)[0]: json.loads(kv.split("=", 1)[1]) for kv in args.opt}
    ctx = Context(profile=args.profile, options={"copymove": opts})
    rows = []
    mismatched = []
    t_all = 0.0
    mp_all = 0.0
    for i in parse_ids(args.ids):
        tam_path = root / "jpg_80" / f"{i}t.jpg" if args.jpeg else root / "image" / f"{i}t.png"
        tam = load_rgb(tam_path)
        org = load_rgb(root / "image" / f"{i}.png")
        copy_m = np.array(Image.open(root / "mask" / f"{i}copy.png").convert("L")) > 127
        forged_m = np.array(Image.open(root / "mask" / f"{i}forged.png").convert("L")) > 127
        row: dict = {"id": i}
        t0 = time.perf_counter()
        ev_t = det.run(wrap(tam), ctx)
        t_all += time.perf_counter() - t0
        mp_all += tam.shape[0] * tam.shape[1] / 1e6
        ev_o = det.run(wrap(org), ctx)
        row["score_t"] = ev_t.score
        row["score_o"] = ev_o.score
        row["feat_t"] = ev_t.extra.get("features")
        row["feat_o"] = ev_o.extra.get("features")
        row["skipped"] = ev_t.skipped or ev_o.skipped
        if copy_m.shape != tam.shape[:2] or forged_m.shape != tam.shape[:2]:
            mismatched.append(i)
        else:
            gt_u = copy_m | forged_m
            m = ev_t.map
            row["f1_best"] = f1_best(m, gt_u)
            row["f1_05"] = f1_at(m >= 0.5, gt_u)
            row["f1_best_target"] = f1_best(m, forged_m)
            row["f1_05_target"] = f1_at(m >= 0.5, forged_m)
            row["f1_allones"] = f1_at(np.ones_like(gt_u), gt_u)
        rows.append(row)
        print(
            json.dumps(
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items() if "feat" not in k}
            )
        )
    px = [r for r in rows if "f1_best" in r]
    summary = {
        "profile": args.profile,
        "jpeg80": args.jpeg,
        "n_pairs": len(rows),
        "n_pixel_eval": len(px),
        "excluded_mask_size_mismatch": mismatched,
        "pixel_f1_best_union": float(np.mean([r["f1_best"] for r in px])),
        "pixel_f1_at_0.5_union": float(np.mean([r["f1_05"] for r in px])),
        "pixel_f1_best_target_only": float(np.mean([r["f1_best_target"] for r in px])),
        "pixel_f1_at_0.5_target_only": float(np.mean([r["f1_05_target"] for r in px])),
        "baseline_all_ones_f1_union": float(np.mean([r["f1_allones"] for r in px])),
        "image_auc": auc([r["score_t"] for r in rows], [r["score_o"] for r in rows]),
        "tampered_detected_at_0.5": float(np.mean([r["score_t"] >= 0.5 for r in rows])),
        "original_false_alarm_at_0.5": float(np.mean([r["score_o"] >= 0.5 for r in rows])),
        "seconds_per_megapixel_tampered": t_all / max(mp_all, 1e-9),
        "machine": f"{platform.machine()} {platform.processor()} python {platform.python_version()}",
    }
    print(json.dumps(summary, indent=1))
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
