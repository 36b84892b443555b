"""Speed of the `noise` and `jpeg` detectors per profile, in seconds per megapixel.

    python benchmarks/manip_noise_jpeg_speed.py

Inputs: the first 4 photos of /work/shared/data/photos/full (camera originals), centre-cropped to 1 MP and 4 MP and
re-saved as JPEG quality 90 (seeded, deterministic). Reports the median wall time and the median process CPU time
of 3 runs after one warm-up; the machine load average is printed because the build machine is shared.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.registry import get_detector
from pixelsleuth.io.loader import load_image

FULL = Path("/work/shared/data/photos/full")


def inputs(mp: float) -> list[bytes]:
    out = []
    for p in sorted(FULL.glob("*.jpg"))[:4]:
        with Image.open(p) as im:
            im = im.convert("RGB")
            w, h = im.size
            side_w = int(np.sqrt(mp * 1e6 * 4 / 3))
            side_h = int(side_w * 3 / 4)
            if w < side_w or h < side_h:
                continue
            x0, y0 = (w - side_w) // 2, (h - side_h) // 2
            b = io.BytesIO()
            im.crop((x0, y0, x0 + side_w, y0 + side_h)).save(b, format="JPEG", quality=90)
            out.append(b.getvalue())
    return out


def main() -> None:
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}")
    dets = sys.argv[1:] or ["noise", "jpeg"]
    for mp in (1.0, 4.0):
        ims = [load_image(d) for d in inputs(mp)]
        if not ims:
            continue
        for name in dets:
            det = get_detector(name)()
            for prof in ("fast", "default", "thorough"):
                ctx = Context(profile=prof)
                det.run(ims[0], ctx)
                wall, cpu = [], []
                for im in ims:
                    for _ in range(3):
                        t0, c0 = time.perf_counter(), time.process_time()
                        det.run(im, ctx)
                        wall.append((time.perf_counter() - t0) / im.megapixels)
                        cpu.append((time.process_time() - c0) / im.megapixels)
                print(
                    f"{name:6s} {prof:8s} {mp:.0f} MP x{len(ims)}: wall {np.median(wall):.3f} s/MP, "
                    f"cpu {np.median(cpu):.3f} s/MP"
                )


if __name__ == "__main__":
    main()
