"""Time of the `jpeg` detector on lossless copies of decoded JPEGs (its JPEG-compatibility path).

    python benchmarks/jpeg_compat_speed.py [--data ../shared/data] [--repeats 3]

The first photo of photos/full is shrunk to 512, 1024 and 2048 px on its longer side, saved as JPEG 85, decoded and
saved as PNG; the detector's default profile runs on each, best of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

from PIL import Image

from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.jpeg import JpegDetector
from pixelsleuth.io import load_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    first = sorted(
        p for p in (a.data / "photos" / "full").iterdir() if p.suffix.lower() in (".jpg", ".jpeg")
    )[0]
    src = Image.open(first).convert("RGB")
    det = JpegDetector()
    for side in (512, 1024, 2048):
        im = src.copy()
        im.thumbnail((side, side))
        jpg = io.BytesIO()
        im.save(jpg, "JPEG", quality=85)
        png = io.BytesIO()
        Image.open(io.BytesIO(jpg.getvalue())).convert("RGB").save(png, "PNG")
        img = load_image(png.getvalue())
        times = []
        for _ in range(a.repeats):
            t = time.perf_counter()
            ev = det.analyze(img, Context(profile="default"))
            times.append(time.perf_counter() - t)
        best, mp = min(times), img.megapixels
        checkable = ev.extra.get("compatibility", {}).get("checkable")
        print(
            f"{img.width}x{img.height} ({mp:.2f} MP): {best:.2f} s, {best / mp:.2f} s/MP, checkable {checkable}"
        )


if __name__ == "__main__":
    main()
