"""Speed of the AI-generation detectors on this machine (seeded synthetic inputs, median of repeats).

Usage: python benchmarks/ai_speed.py [--repeats 5] [--only DETECTOR]
Reports ai_artifact and ai_cnn seconds per megapixel at several sizes (default profile), ai_clip_probe seconds per image
for the default and thorough profiles (1 and 5 crops), sd_watermark seconds per image (thorough profile, which
also decodes images above 8 MP). Wall and CPU seconds (all threads) are both given: on a shared machine the
wall time mostly measures the other jobs. Model loading excluded (one warm-up call first).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import cv2
import numpy as np

from pixelsleuth.detectors.base import Context
from pixelsleuth.io.image import ImageData


def _img(h: int, w: int, seed: int = 0) -> ImageData:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    rgb = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return ImageData(rgb=rgb, format="PNG", mode="RGB", bit_depth=8, sha256="", source="<bytes>", file_size=0)


def bench(det, img: ImageData, repeats: int, profile: str = "default") -> tuple[float, float]:  # noqa: ANN001
    """Median wall seconds and median CPU seconds (all threads of this process) per call."""
    det.run(img, Context(profile=profile))
    ts, cs = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        ev = det.run(img, Context(profile=profile))
        ts.append(time.perf_counter() - t)
        cs.append(time.process_time() - c)
        assert ev.skipped is None, ev.skipped
    return float(np.median(ts)), float(np.median(cs))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--only",
        default=None,
        metavar="DETECTOR",
        help="time only this registered detector (default profile) at 0.26 / 1 / 4 / 12 MP, e.g. manip_cnn",
    )
    a = ap.parse_args()
    if a.only:
        from pixelsleuth.detectors.registry import detectors_for

        det = detectors_for("thorough", only=[a.only])[0]
        res: dict = {"cpu_count": os.cpu_count(), "load_avg": os.getloadavg()}
        for h, w in ((512, 512), (1024, 1024), (2000, 2000), (3000, 4000)):
            img = _img(h, w)
            s, c = bench(det, img, a.repeats)
            res[f"{a.only}_{h}x{w}"] = {"wall_s": round(s, 4), "cpu_s": round(c, 4),
                                        "wall_s_per_mp": round(s / img.megapixels, 4)}  # fmt: skip
        print(json.dumps(res, indent=1))
        return
    from pixelsleuth.detectors.ai_artifact import AIArtifact
    from pixelsleuth.detectors.ai_clip_probe import CROPS_BY_PROFILE, AIClipProbe
    from pixelsleuth.detectors.ai_cnn import AICnn
    from pixelsleuth.detectors.sd_watermark import SDWatermark
    from pixelsleuth.models.registry import model_available

    out: dict = {"cpu_count": os.cpu_count(), "load_avg": os.getloadavg()}
    for h, w in ((512, 512), (1024, 1024), (3000, 4000)):
        img = _img(h, w)
        for name, det in (("ai_artifact", AIArtifact()), ("ai_cnn", AICnn())):
            s, c = bench(det, img, a.repeats)
            out[f"{name}_{h}x{w}"] = {
                "wall_s": round(s, 4),
                "cpu_s": round(c, 4),
                "wall_s_per_mp": round(s / img.megapixels, 4),
                "cpu_s_per_mp": round(c / img.megapixels, 4),
            }
        s, c = bench(SDWatermark(), img, a.repeats, "thorough")
        out[f"sd_watermark_{h}x{w}"] = {"wall_s": round(s, 4), "cpu_s": round(c, 4)}
        if model_available("clip_vit_b16_int8"):
            for prof in ("default", "thorough"):  # CROPS_BY_PROFILE: 1 and 5 crops
                s, c = bench(AIClipProbe(), img, a.repeats, prof)
                out[f"ai_clip_probe_{prof}_{h}x{w}"] = {"wall_s": round(s, 4), "cpu_s": round(c, 4),
                                                        "crops": CROPS_BY_PROFILE[prof]}  # fmt: skip
    out["load_avg_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
