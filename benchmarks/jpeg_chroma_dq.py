"""Experiment: does double quantization of the chroma planes localize edits that luma misses (colour edits)?

    python benchmarks/jpeg_chroma_dq.py /tmp/H/fit-jpg /tmp/H/fit2-jpg

For every forgery of synthesizer sets saved as JPEG (camera JPEG -> edit -> JPEG q90), the double-quantization model
of the `jpeg` detector is run on the luma coefficients (pooled over 5 x 5 blocks, as shipped) and on each chroma
plane (pooled over 3 x 3 of its blocks, which cover 16 x 16 pixels at 4:2:0). Per type it prints the mean pixel
F1-best of the luma map, of the stronger chroma map, and of the summed evidence. docs/bench/noise_jpeg.md has the
result (not shipped: chroma adds nothing, colour edits included).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import jpeglib
import numpy as np
from PIL import Image
from scipy import ndimage

from pixelsleuth.bench.metrics import pixel_f1_best
from pixelsleuth.detectors._jpeg_dq import double_quantization
from pixelsleuth.detectors._jpeg_util import decode_luma
from pixelsleuth.detectors.jpeg import DQ_GAIN_MIN, DQ_WINDOW


def _llr(coef: np.ndarray, qt: np.ndarray, window: int) -> np.ndarray | None:
    """Pooled per-block log-likelihood ratio, signed so that the minority class is positive; None if no DQ."""
    dq = double_quantization(coef, qt, decode_luma(coef, qt))
    if dq.gain < DQ_GAIN_MIN:
        return None
    llr = ndimage.uniform_filter(dq.llr, size=window, mode="nearest") * 9.0
    return -llr if dq.alpha < 0.5 else llr


def _pixels(block_llr: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    m = 1.0 / (1.0 + np.exp(-np.clip(block_llr - 2.0, -30, 30)))
    px = np.repeat(np.repeat(m, block, 0), block, 1)
    out = np.zeros(shape, np.float32)
    h, w = min(shape[0], px.shape[0]), min(shape[1], px.shape[1])
    out[:h, :w] = px[:h, :w]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="+", type=Path)
    args = ap.parse_args()
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for sd in args.sets:
        for line in (sd / "manifest.jsonl").read_text().splitlines():
            it = json.loads(line)
            if it["label"] != 1:
                continue
            d = jpeglib.read_dct(str(sd / it["image"]))
            qn = d.quant_tbl_no
            mask = np.asarray(Image.open(sd / it["mask"])) > 0
            luma = _llr(np.array(d.Y), np.array(d.qt[qn[0]], np.float32), DQ_WINDOW)
            chroma = [
                _llr(np.array(c), np.array(d.qt[qn[k]], np.float32), 3) for k, c in ((1, d.Cb), (2, d.Cr))
            ]
            sub = 8 * int(d.samp_factor[0][0])  # pixels per chroma block side (16 at 4:2:0)
            found = [c for c in chroma if c is not None]
            maps: dict[str, np.ndarray | None] = {"luma": None, "chroma": None, "both": None}
            if luma is not None:
                maps["luma"] = _pixels(luma, 8, mask.shape)
            if found:
                cm = _pixels(np.maximum.reduce(found), sub, mask.shape)
                maps["chroma"] = cm
            if luma is not None and found:
                up = np.maximum.reduce([np.repeat(np.repeat(c, sub // 8, 0), sub // 8, 1) for c in found])
                s = np.zeros_like(luma)
                h, w = min(s.shape[0], up.shape[0]), min(s.shape[1], up.shape[1])
                s[:h, :w] = up[:h, :w]
                maps["both"] = _pixels(luma + s, 8, mask.shape)
            for k, m in maps.items():
                scores[it["type"]][k].append(pixel_f1_best(m, mask)[0] if m is not None else 0.0)
    print("| type | n | luma F1-best | chroma F1-best | summed F1-best |\n|---|---|---|---|---|")
    for t in sorted(scores):
        v = scores[t]
        print(
            f"| {t} | {len(v['luma'])} | {np.mean(v['luma']):.3f} | {np.mean(v['chroma']):.3f} | "
            f"{np.mean(v['both']):.3f} |"
        )
    allv = {k: np.mean([x for t in scores for x in scores[t][k]]) for k in ("luma", "chroma", "both")}
    print(f"| all | | {allv['luma']:.3f} | {allv['chroma']:.3f} | {allv['both']:.3f} |")


if __name__ == "__main__":
    main()
