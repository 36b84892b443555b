"""Probe (not used by any detector): does aligned double quantization show in the chroma of JPEG forgeries?

For every forgery of a ``pixelsleuth synth`` set saved as JPEG (not ``double_jpeg``), the module's double-quantization
model (``_jpeg_dq.double_quantization``) runs on the luma and on each chroma component of the file, and the per-block
log-likelihood ratio (positive = single-compressed) is scored against the mask by block AUC. It also scores the luma
LLR plus ``--weight`` times the chroma LLRs spread over the luma blocks (4:2:0 files)::

    python benchmarks/jpeg_chroma_dq_probe.py /tmp/H/fit-jpg
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import jpeglib
import numpy as np
from PIL import Image
from scipy.fft import idctn
from sklearn.metrics import roc_auc_score

from pixelsleuth.detectors._jpeg_dq import double_quantization


def _auc(mask: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(mask.ravel(), score.ravel())) if 0 < mask.mean() < 1 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set", type=Path)
    ap.add_argument("--weight", type=float, default=0.25)
    a = ap.parse_args()
    per: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for line in (a.set / "manifest.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["label"] != 1 or r["type"] == "double_jpeg" or r.get("format") != "JPEG":
            continue
        j = jpeglib.read_dct(str(a.set / r["image"]))
        if j.Cb is None or j.Cb.shape[0] * 2 != j.Y.shape[0] or j.Cb.shape[1] * 2 != j.Y.shape[1]:
            continue  # 4:2:0 files only
        mask = np.asarray(Image.open(a.set / r["mask"])) > 127
        llr = {}
        for name, coef, comp in (("Y", j.Y, 0), ("Cb", j.Cb, 1), ("Cr", j.Cr, 2)):
            qt = j.qt[j.quant_tbl_no[comp]].astype(np.float32)
            plane = idctn(coef * qt, axes=(2, 3), norm="ortho") + 128
            plane = np.clip(plane.transpose(0, 2, 1, 3).reshape(coef.shape[0] * 8, coef.shape[1] * 8), 0, 255)
            llr[name] = double_quantization(coef, qt, plane).llr
        y = llr["Y"]
        c = np.repeat(np.repeat(llr["Cb"] + llr["Cr"], 2, 0), 2, 1)[: y.shape[0], : y.shape[1]]
        y = y[: c.shape[0], : c.shape[1]]
        h, w = y.shape
        mb = mask[: h * 8, : w * 8].reshape(h, 8, w, 8).mean(axis=(1, 3)) > 0.5
        per[r["type"]].append((_auc(mb, y), _auc(mb, c), _auc(mb, y + a.weight * c)))
    print(f"| type | n | luma LLR AUC | chroma LLR AUC | luma + {a.weight} chroma AUC |")
    print("|---|---|---|---|---|")
    for t, v in sorted(per.items()):
        m = np.nanmean(np.asarray(v), axis=0)
        print(f"| {t} | {len(v)} | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} |")


if __name__ == "__main__":
    main()
