"""Check that a code change (a speed-up, say) leaves every detector's output as it was.

    # inputs: seeded synthetic forgeries (JPEG and PNG) of test-split photos, plus camera JPEGs as stored
    pixelsleuth synth --max-side 512 --n 24 --src ../shared/data/photos/camera --out /tmp/S/syn-jpg --seed 11 \
        --format jpeg --quality 90 --split test
    pixelsleuth synth --max-side 512 --n 12 --src ../shared/data/photos/camera --out /tmp/S/syn-png --seed 12 \
        --format png --split test
    # capture with the old code (a git worktree on PYTHONPATH), then with the new, then compare
    PYTHONPATH=<worktree>/src python benchmarks/analyze_equivalence.py capture /tmp/S/old.pkl \
        --images '/tmp/S/syn-jpg/images/*' --images '/tmp/S/syn-png/images/*' --images '../shared/data/photos/camera/*.jpg'
    python benchmarks/analyze_equivalence.py capture /tmp/S/new.pkl --images ... (the same)
    python benchmarks/analyze_equivalence.py compare /tmp/S/old.pkl /tmp/S/new.pkl

Each image is analysed in the fast and the default profile. ``compare`` prints, per detector, the largest score
difference, the largest map difference, and how many analyses changed their ``extra`` data or their findings; then
the largest fused-map difference and how many labels or image scores changed. It exits 1 when a label changed.
"""

from __future__ import annotations

import argparse
import glob
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

# at most this many images per --images pattern (sorted), so a capture takes about a minute per 40 images
PER_PATTERN = 45


def capture(out: Path, patterns: list[str], profiles: list[str], threads: int = 0) -> None:
    from pixelsleuth.detectors.registry import detectors_for
    from pixelsleuth.io import load_image
    from pixelsleuth.pipeline import AnalyzeOptions, analyze_image

    files = [f for p in patterns for f in sorted(glob.glob(p))[:PER_PATTERN]]
    if not files:
        sys.exit("no input images matched")
    res: dict[tuple[str, str], dict[str, Any]] = {}
    for prof in profiles:
        opts, dets = AnalyzeOptions(profile=prof, threads=threads), detectors_for(prof)
        for f in files:
            rep = analyze_image(load_image(Path(f).read_bytes()), opts, detectors=dets)
            d: dict[str, Any] = {
                ev.detector: {
                    "score": ev.score,
                    "map": None if ev.map is None else np.asarray(ev.map, np.float32),
                    "extra": repr(ev.extra),
                    "findings": [x.code for x in ev.findings],
                }
                for ev in rep.evidence
            }
            res[(prof, f)] = {
                "detectors": d,
                "label": rep.label,
                "scores": repr(rep.scores),
                "map": None if rep.map is None else np.asarray(rep.map, np.float32),
            }
    tmp = out.with_suffix(out.suffix + ".part")
    with tmp.open("wb") as fh:
        pickle.dump(res, fh)
    tmp.replace(out)
    print(f"captured {len(res)} analyses of {len(files)} images to {out}")


def _map_diff(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None and b is None:
        return 0.0
    if a is None or b is None or a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max())


def compare(a_path: Path, b_path: Path) -> int:
    with a_path.open("rb") as fa, b_path.open("rb") as fb:
        a, b = pickle.load(fa), pickle.load(fb)
    if set(a) != set(b):
        print("the two captures hold different analyses")
        return 1
    per: dict[str, list[float]] = {}
    labels = scores = 0
    fmap = 0.0
    for k in a:
        for det, x in a[k]["detectors"].items():
            y = b[k]["detectors"].get(det)
            w = per.setdefault(det, [0.0, 0.0, 0, 0])
            if y is None:
                w[0] = float("inf")
                continue
            if x["score"] != y["score"]:
                ds = (
                    float("inf") if x["score"] is None or y["score"] is None else abs(x["score"] - y["score"])
                )
                w[0] = max(w[0], ds)
            w[1] = max(w[1], _map_diff(x["map"], y["map"]))
            w[2] += x["extra"] != y["extra"]
            w[3] += x["findings"] != y["findings"]
        labels += a[k]["label"] != b[k]["label"]
        scores += a[k]["scores"] != b[k]["scores"]
        fmap = max(fmap, _map_diff(a[k]["map"], b[k]["map"]))
    print("| detector | max score diff | max map diff | extra changed | findings changed |")
    print("|---|---|---|---|---|")
    for det, (ds, dm, ne, nf) in sorted(per.items()):
        print(f"| {det} | {ds:.2g} | {dm:.2g} | {ne} | {nf} |")
    print(
        f"\n{len(a)} analyses; fused map max diff {fmap:.2g}; image scores changed in {scores}; labels changed in {labels}"
    )
    return 1 if labels else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("out", type=Path)
    c.add_argument("--images", action="append", required=True, help="glob pattern (repeatable)")
    c.add_argument("--profiles", default="fast,default")
    c.add_argument("--threads", type=int, default=0, help="threads per image (0 = auto, as shipped)")
    d = sub.add_parser("compare")
    d.add_argument("a", type=Path)
    d.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "capture":
        capture(args.out, args.images, args.profiles.split(","), args.threads)
    else:
        sys.exit(compare(args.a, args.b))


if __name__ == "__main__":
    main()
