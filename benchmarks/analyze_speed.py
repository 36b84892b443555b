"""Time `analyze` per megapixel for each profile on real photos (2-core machine; one process).

    python benchmarks/analyze_speed.py --data ../shared/data --n 12 --repeats 3 --out docs/bench/analyze_speed.md

Images: the first N camera crops (512x512) and the first 4 full camera originals downscaled to ~3 MP, in manifest
order; with --as-png each is decoded and saved as PNG first (the lossless path: the `jpeg` detector then runs its
JPEG-compatibility test, and the file-format-dependent detectors see a PNG). With --repeats R each image is analysed R times and its fastest run kept (this VM's speed drifts by
+-40% from minute to minute). Reports the median and p90 of seconds per megapixel for the whole analysis and per detector.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pixelsleuth.detectors.registry import detectors_for
from pixelsleuth.io import load_image
from pixelsleuth.pipeline import AnalyzeOptions, analyze_image


def as_png(data: bytes) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def inputs(data: Path, n: int) -> list[tuple[str, bytes]]:
    cams = sorted((data / "photos" / "camera").glob("*.jpg"))[:n]
    out = [(p.name, p.read_bytes()) for p in cams]
    for p in sorted((data / "photos" / "full").glob("*.[jJ][pP]*[gG]"))[:4]:
        im = Image.open(p)
        im.draft("RGB", (2048, 2048))
        im = im.convert("RGB")
        s = (3e6 / (im.width * im.height)) ** 0.5
        if s < 1:
            im = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=92)
        out.append((p.name + "@3MP", buf.getvalue()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--profiles", default="fast,default")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="analyse each image R times and keep its fastest run (noisy VMs)",
    )
    ap.add_argument("--as-png", action="store_true", help="decode each input and time its PNG copy")
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads for one image's detectors (0 = auto, as shipped; 1 = one detector at a time, whose "
        "per-detector times are then isolated rather than wall time on shared cores)",
    )
    a = ap.parse_args()
    imgs = [(name, load_image(as_png(b) if a.as_png else b)) for name, b in inputs(a.data, a.n)]
    lines = [
        "| profile | images | MP total | median s/MP | p90 s/MP | slowest detectors (median s/MP) |",
        "|---|---|---|---|---|---|",
    ]
    for profile in a.profiles.split(","):
        opts = AnalyzeOptions(profile=profile, threads=a.threads)
        dets = detectors_for(profile)
        analyze_image(imgs[0][1], opts, detectors=dets)  # warm-up (imports, model load)
        per_mp, per_det = [], {}
        for _, im in imgs:
            best_total, best_det = float("inf"), {}
            for _ in range(max(1, a.repeats)):
                t0 = time.perf_counter()
                rep = analyze_image(im, opts, detectors=dets)
                total = time.perf_counter() - t0
                if total < best_total:
                    best_total = total
                best_det = {
                    ev.detector: min(ev.elapsed_s, best_det.get(ev.detector, float("inf")))
                    for ev in rep.evidence
                }
            per_mp.append(best_total / im.megapixels)
            for k, v in best_det.items():
                per_det.setdefault(k, []).append(v / im.megapixels)
        slow = sorted(((statistics.median(v), k) for k, v in per_det.items()), reverse=True)[:5]
        lines.append(
            f"| {profile} | {len(imgs)} | {sum(i.megapixels for _, i in imgs):.1f} | {statistics.median(per_mp):.2f} | "
            f"{float(np.percentile(per_mp, 90)):.2f} | " + ", ".join(f"{k} {v:.2f}" for v, k in slow) + " |"
        )
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(
            "## Analyze speed per megapixel (2 cores)\n\nCommand: `python benchmarks/analyze_speed.py --data ../shared/data "
            f"--n {a.n} --repeats {a.repeats}{' --as-png' if a.as_png else ''}"
            f"{f' --threads {a.threads}' if a.threads else ''} --out {a.out}`\n\n"
            + text
            + "\n"
        )


if __name__ == "__main__":
    main()
