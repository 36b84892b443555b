"""Cache the manipulation detectors' evidence on a synthetic forgery set, for fitting/evaluating the fusion.

Usage (seeded, reproducible; the synthetic sets come from ``pixelsleuth synth``, see docs/bench/fusion.md)::

    python benchmarks/fusion_cache.py --set /tmp/H/train-png --set /tmp/H/train-jpg --out /tmp/H/cache/train
    python benchmarks/fusion_cache.py --set /tmp/H/test-png --set /tmp/H/test-jpg --out /tmp/H/cache/test

Every forgery of each set is kept, plus ``--authentic`` authentic controls per set (the first ones by id, a fixed
choice). One ``<id>.npz`` per image holds, for each detector: its score, ``extra["manipulated"]``, its map and
reliability map downsampled by ``--factor`` (area average), plus the ground-truth mask at the same size. Existing
files are kept, so an interrupted run resumes; a detector missing from an existing file (``--detectors`` names a
new one) is computed and added to it. The list of cached ids is written to ``<out>/items.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

MANIP = ("ela", "noise", "jpeg", "copymove", "resampling", "cfa", "manip_cnn")


def small(a: np.ndarray, factor: int) -> np.ndarray:
    h, w = a.shape[:2]
    return cv2.resize(
        a.astype(np.float32), (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
    )


def select(set_dir: Path, n_auth: int) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in (set_dir / "manifest.jsonl").read_text().splitlines() if x.strip()]
    forged = [r for r in rows if r["label"] == 1]
    auth = sorted((r for r in rows if r["label"] == 0), key=lambda r: r["id"])[:n_auth]
    return forged + auth


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", action="append", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--authentic", type=int, default=20)
    ap.add_argument("--factor", type=int, default=4)
    ap.add_argument("--photos", type=Path, help="also cache real photos of this folder as authentic controls")
    ap.add_argument("--split", default="all", help="split of --photos (pixelsleuth.bench.synth.split_of)")
    ap.add_argument("--max-photos", type=int, default=60)
    ap.add_argument("--detectors", default=",".join(MANIP), help="comma-separated (default: all of MANIP)")
    ap.add_argument(
        "--refresh",
        action="store_true",
        help="recompute --detectors even where a file has them (a retrained model)",
    )
    args = ap.parse_args()

    from pixelsleuth.detectors.base import Context
    from pixelsleuth.detectors.registry import detectors_for
    from pixelsleuth.io import load_image

    dets = detectors_for("default", only=args.detectors.split(","))
    ctx = Context(profile="default")
    args.out.mkdir(parents=True, exist_ok=True)
    items = []
    for sd in args.set:
        for r in select(sd, args.authentic):
            items.append((sd, r))
    if args.photos is not None:
        from pixelsleuth.bench.synth import list_photos

        for p in list_photos(args.photos, args.split)[: args.max_photos]:
            row = {
                "id": p.stem,
                "type": "authentic_photo",
                "label": 0,
                "format": p.suffix.lstrip(".").upper(),
                "image": str(p.resolve()),
                "mask": "",
            }
            items.append((args.photos, row))
    listing = [
        {"set": str(sd), "id": r["id"], "type": r["type"], "label": r["label"], "format": r["format"]}
        for sd, r in items
    ]
    # keep the entries of earlier runs on other sets (a refresh of one set must not drop the others), and replace
    # the file rather than rewrite it in place (a cache copied with hard links keeps its own listing)
    listed = {(x["set"], x["id"]) for x in listing}
    old_path = args.out / "items.json"
    if old_path.exists():
        for x in json.loads(old_path.read_text()):
            key = f"{Path(x['set']).name}__{x['id']}"
            if (x["set"], x["id"]) not in listed and (args.out / f"{key}.npz").exists():
                listing.append(x)
    tmp_list = args.out / "items.json.tmp"
    tmp_list.write_text(json.dumps(listing, indent=0))
    tmp_list.replace(old_path)
    t0 = time.time()
    for k, (sd, r) in enumerate(items):
        key = f"{sd.name}__{r['id']}"
        dst = args.out / f"{key}.npz"
        rec: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        if dst.exists():
            with np.load(dst) as z:
                rec = {f: z[f] for f in z.files if f != "meta"}
                meta = json.loads(str(z["meta"]))
            todo = [d for d in dets if args.refresh or d.name not in meta]
            if not todo:
                continue
        else:
            todo = list(dets)
        img = load_image(str(sd / r["image"]))
        if not rec:
            if r["mask"]:
                mask = cv2.imread(str(sd / r["mask"]), cv2.IMREAD_GRAYSCALE) > 127
            else:
                mask = np.zeros(img.shape, bool)
            rec = {"mask": small(mask, args.factor), "shape": np.array(img.shape)}
            src = r.get("source_mask") or ""
            if src:
                rec["source_mask"] = small(cv2.imread(str(sd / src), cv2.IMREAD_GRAYSCALE) > 127, args.factor)
            meta = {"id": r["id"], "type": r["type"], "label": r["label"], "format": r["format"]}
        for d in todo:
            ev = d.run(img, ctx)
            man = (
                ev.extra.get("manipulated") if isinstance(ev.extra.get("manipulated"), int | float) else None
            )
            meta[d.name] = {"score": ev.score, "manipulated": man, "skipped": ev.skipped, "t": ev.elapsed_s}
            if ev.map is not None:
                rec[f"{d.name}_map"] = small(ev.map, args.factor).astype(np.float16)
            if ev.reliability is not None:
                rec[f"{d.name}_rel"] = small(ev.reliability, args.factor).astype(np.float16)
        rec["meta"] = np.array(json.dumps(meta))
        tmp = dst.with_name(dst.stem + ".tmp.npz")
        np.savez_compressed(tmp, **rec)
        tmp.replace(dst)
        print(f"{k + 1}/{len(items)} {key} {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
