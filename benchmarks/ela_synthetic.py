"""ELA benchmark on synthetic splices built from real camera JPEGs (seeded, reproducible).

Data: /work/shared/data/photos/camera (512x512 lossless crops of camera-original JPEGs) as hosts and
/work/shared/data/photos/web as splice donors. Split by MANIFEST order: files with an odd index (cam0001, cam0003, ...)
are the calibration split, even ones the test split; ColorChecker and flat-field scenes are skipped
(note column), because a paste into a flat chart is trivially visible.

For every host three cases are made:
  * ``single``  the camera JPEG as it is (negative);
  * ``resaved`` the camera JPEG decoded and saved again at a random quality Q in [75, 95] (negative);
  * ``spliced`` a random rectangle (48..160 px sides, not grid aligned) from a donor photo previously saved at a
    different quality is pasted in, then the composite is saved at Q (positive, with its mask).

Untouched JPEGs from photos/bsds500 and photos/web (same even/odd split rule on sorted names) are scored as extra
negatives.

Reports: ROC AUC of the score, the share of negatives >= 0.5 (false alarms) and positives >= 0.5 (detections),
and for positives the mean IoU of (map >= 0.5) with the mask next to the IoU an all-ones map gets.

    python benchmarks/ela_synthetic.py --split test --profile default
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.ela import ElaDetector
from pixelsleuth.io import load_image

DATA = Path("/work/shared/data/photos")


def hosts(split: str) -> list[Path]:
    rows = list(csv.DictReader(open(DATA / "camera" / "MANIFEST.tsv"), delimiter="\t"))
    out = []
    for i, r in enumerate(rows):
        note = (r.get("note") or "").lower()
        if "colorchecker" in note or "flat" in note:
            continue
        if (i % 2 == 0) == (split == "calib"):
            out.append(DATA / "camera" / r["file"])
    return out


def jpeg_bytes(rgb: np.ndarray, q: int) -> bytes:
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, "JPEG", quality=q)
    return b.getvalue()


def decode(b: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))


def make_cases(
    path: Path, donors: list[Path], rng: np.random.Generator
) -> list[tuple[str, bytes, np.ndarray | None]]:
    host_bytes = path.read_bytes()
    host = decode(host_bytes)
    h, w = host.shape[:2]
    q = int(rng.integers(75, 96))
    cases: list[tuple[str, bytes, np.ndarray | None]] = [("single", host_bytes, None)]
    cases.append(("resaved", jpeg_bytes(host, q), None))
    donor = np.asarray(Image.open(donors[int(rng.integers(len(donors)))]).convert("RGB"))
    qd = int(rng.choice([60, 70, 98, 100]))
    donor = decode(jpeg_bytes(donor, qd))
    ph, pw = int(rng.integers(48, 161)), int(rng.integers(48, 161))
    ph, pw = min(ph, donor.shape[0] - 1, h - 1), min(pw, donor.shape[1] - 1, w - 1)
    sy, sx = int(rng.integers(0, donor.shape[0] - ph)), int(rng.integers(0, donor.shape[1] - pw))
    ty, tx = int(rng.integers(0, h - ph)), int(rng.integers(0, w - pw))
    comp = host.copy()
    comp[ty : ty + ph, tx : tx + pw] = donor[sy : sy + ph, sx : sx + pw]
    mask = np.zeros((h, w), bool)
    mask[ty : ty + ph, tx : tx + pw] = True
    cases.append(("spliced", jpeg_bytes(comp, q), mask))
    return cases


def auc(neg: list[float], pos: list[float]) -> float:
    n, p = np.asarray(neg), np.asarray(pos)
    if not len(n) or not len(p):
        return float("nan")
    gt = (p[:, None] > n[None, :]).mean()
    eq = (p[:, None] == n[None, :]).mean()
    return float(gt + 0.5 * eq)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=["calib", "test"], default="test")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--dump", default="")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    hs = hosts(args.split)
    if args.limit:
        hs = hs[: args.limit]
    donors = sorted(p for p in (DATA / "web").iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    donors += sorted((DATA / "bsds500").glob("*.jpg"))[:100]
    det, ctx = ElaDetector(), Context(profile=args.profile)
    scores: dict[str, list[float]] = {"single": [], "resaved": [], "spliced": [], "bsds500": [], "web": []}
    ious, ious_ones, rows = [], [], []
    t0 = time.perf_counter()
    for p in hs:
        for kind, b, mask in make_cases(p, donors, rng):
            ev = det.run(load_image(b), ctx)
            scores[kind].append(float(ev.score or 0.0))
            rows.append(
                {"file": p.name, "kind": kind, "score": ev.score, "strength": ev.extra.get("strength")}
            )
            if mask is not None and ev.map is not None:
                ious.append(iou(ev.map >= 0.5, mask))
                ious_ones.append(iou(np.ones_like(mask), mask))
    # untouched web and BSDS JPEGs: the same split rule (even index = calib, odd = test)
    extra_fa: dict[str, float] = {}
    for sub in ("bsds500", "web"):
        files = sorted(p for p in (DATA / sub).iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        files = [p for i, p in enumerate(files) if (i % 2 == 0) == (args.split == "calib")]
        if args.limit:
            files = files[: args.limit]
        s = [float(det.run(load_image(p), ctx).score or 0.0) for p in files]
        scores[sub] = s
        extra_fa[f"false_alarm_{sub}"] = round(float(np.mean(np.asarray(s) >= 0.5)), 3) if s else float("nan")
    dt = time.perf_counter() - t0
    n_img = sum(len(v) for v in scores.values())
    res = {
        "split": args.split,
        "profile": args.profile,
        "hosts": len(hs),
        "auc_single_vs_spliced": round(auc(scores["single"], scores["spliced"]), 3),
        "auc_resaved_vs_spliced": round(auc(scores["resaved"], scores["spliced"]), 3),
        "false_alarm_single": round(float(np.mean(np.asarray(scores["single"]) >= 0.5)), 3),
        "false_alarm_resaved": round(float(np.mean(np.asarray(scores["resaved"]) >= 0.5)), 3),
        **extra_fa,
        "detect_spliced": round(float(np.mean(np.asarray(scores["spliced"]) >= 0.5)), 3),
        "mean_iou_map": round(float(np.mean(ious)), 3) if ious else None,
        "mean_iou_all_ones": round(float(np.mean(ious_ones)), 3) if ious_ones else None,
        "seconds_per_image": round(dt / max(n_img, 1), 3),
    }
    print(json.dumps(res, indent=1))
    if args.dump:
        Path(args.dump).write_text(json.dumps(rows, indent=0))


if __name__ == "__main__":
    main()
