"""Non-aligned double JPEG compression (`jpeg` detector, `_jpeg_nadq.py`): grid search, false detections, maps.

    python benchmarks/jpeg_na_dq.py --set /tmp/H/fit-jpg --set /tmp/H/fit2-jpg --set /tmp/H/test-jpg \
        --set /tmp/H/test2-jpg --photos ../shared/data/photos --na 40

1. Synthesizer sets saved as JPEG (benchmarks/fusion_data.sh): every image's best shifted-grid contrast. Images
   with an earlier compression on a shifted grid are the misaligned ``double_jpeg`` forgeries and their authentic
   controls (``variant == double_jpeg`` with a non-zero shift); the search leaves out shifts that share a row or
   column phase with the last grid, so a shift with a zero component counts as "not findable". Everything else
   (camera JPEG -> q90, aligned double JPEG) has no earlier shifted compression, as far as the synthesizer knows.
2. ``--photos``: the test-split camera and BSDS photos (as stored), the share with a detection.
3. ``--na``: the `na` cases of benchmarks/manip_noise_jpeg_common.py (test split; a misaligned JPEG region pasted into
   a never-compressed picture, saved at 85-95), the share detected and the map's F1-best.

Pixel F1-best is reported for the `jpeg` detector's map and for the non-aligned map alone, beside the all-ones map.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from manip_noise_jpeg_common import all_ones_f1, inverse_cases  # noqa: E402

from pixelsleuth.bench.metrics import pixel_f1_best  # noqa: E402
from pixelsleuth.bench.synth import split_of  # noqa: E402
from pixelsleuth.detectors.base import Context  # noqa: E402
from pixelsleuth.detectors.jpeg import NA_CONTRAST_MIN, JpegDetector  # noqa: E402
from pixelsleuth.io import load_image  # noqa: E402


def _run(det: JpegDetector, data: str | bytes) -> tuple[dict, np.ndarray | None]:
    ev = det.analyze(load_image(data), Context(profile="default"))
    return ev.extra.get("na_double_quantization", {}), ev.map


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", type=Path, default=[])
    ap.add_argument("--photos", type=Path, default=None)
    ap.add_argument("--na", type=int, default=0, help="hosts of the `na` cases (0 = skip)")
    args = ap.parse_args()
    det = JpegDetector()
    neg: list[float] = []
    pos: list[tuple[float, bool]] = []
    forged: list[tuple[str, float, float]] = []
    for sd in args.set:
        for line in (sd / "manifest.jsonl").read_text().splitlines():
            it = json.loads(line)
            if it["format"] != "JPEG":
                continue
            p = it["params"]
            shift = (
                p.get("shift") if (it["type"] == "double_jpeg" or p.get("variant") == "double_jpeg") else None
            )
            na, m = _run(det, str(sd / it["image"]))
            if not shift or shift == [0, 0]:
                neg.append(na.get("contrast", 0.0))
                continue
            want = [(8 - shift[0]) % 8, (8 - shift[1]) % 8]
            findable = want[0] != 0 and want[1] != 0 and p["q2"] > p["q1"]
            hit = bool(na.get("detected")) and na.get("shift") == want
            pos.append((na.get("contrast", 0.0), hit) if findable else (float("nan"), hit))
            if it["label"] == 1 and findable:
                mask = np.asarray(Image.open(sd / it["mask"])) > 0
                forged.append((f"q{p['q1']}->{p['q2']}", pixel_f1_best(m, mask)[0], all_ones_f1(mask)))
    print(f"## Synthesizer sets ({', '.join(s.name for s in args.set)})\n")
    negs = np.array(neg)
    print(
        f"- no earlier shifted compression: {len(negs)} images, contrast median {np.median(negs):.2f}, "
        f"max {negs.max():.2f}, detected (>= {NA_CONTRAST_MIN}) {(negs >= NA_CONTRAST_MIN).mean():.1%}"
    )
    fin = [(c, h) for c, h in pos if np.isfinite(c)]
    print(
        f"- earlier compression on a findable shifted grid, coarser than the last: {len(fin)} images, contrast "
        f"{', '.join(f'{c:.1f}' for c, _ in sorted(fin))}; found at the right shift {sum(h for _, h in fin)}"
    )
    print(
        f"- not findable (a zero shift component, or a finer first compression): {len(pos) - len(fin)} images, "
        f"detected anyway {sum(h for c, h in pos if not np.isfinite(c))}"
    )
    if forged:
        print("\n| forgery | jpeg map F1-best | all-ones F1 |\n|---|---|---|")
        for k, f1, ones in forged:
            print(f"| {k} | {f1:.2f} | {ones:.2f} |")
        print(
            f"| mean ({len(forged)}) | {np.mean([f for _, f, _ in forged]):.3f} | "
            f"{np.mean([o for _, _, o in forged]):.3f} |"
        )
    if args.photos is not None:
        files = [
            f
            for sub in ("camera", "bsds500")
            for f in sorted((args.photos / sub).glob("*.jpg"))
            if split_of(f) == "test"
        ]
        got = [_run(det, str(f))[0] for f in files]
        c = np.array([g.get("contrast", 0.0) for g in got])
        print(
            f"\n## Test-split photos as stored ({len(files)})\n\n- contrast median {np.median(c):.2f}, max "
            f"{c.max():.2f}; detected {np.mean([bool(g.get('detected')) for g in got]):.1%}"
        )
    if args.na:
        rows = []
        for case in inverse_cases("test", n=args.na, aligned=False):
            na, m = _run(det, case.data)
            if case.forged:
                rows.append(
                    (bool(na.get("detected")), pixel_f1_best(m, case.mask)[0], all_ones_f1(case.mask))
                )
            else:
                rows.append((bool(na.get("detected")), float("nan"), float("nan")))
        f = [r for r in rows if np.isfinite(r[1])]
        a = [r for r in rows if not np.isfinite(r[1])]
        print(f"\n## `na` cases (test split, {len(f)} forged, {len(a)} authentic)\n")
        print(
            f"- detected: forged {np.mean([r[0] for r in f]):.1%}, authentic {np.mean([r[0] for r in a]):.1%}"
        )
        print(
            f"- jpeg map F1-best {np.mean([r[1] for r in f]):.3f} (all-ones {np.mean([r[2] for r in f]):.3f}); "
            f"on the detected ones {np.mean([r[1] for r in f if r[0]] or [float('nan')]):.3f}"
        )


if __name__ == "__main__":
    main()
