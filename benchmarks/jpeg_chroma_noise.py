"""Noise of the chroma planes that ``detectors/_jpeg_chroma.py`` recovers from decoded camera JPEGs, per DCT mode.

For each train-split camera JPEG (``pixelsleuth.bench.synth.split_of``) with 4:2:0 or 4:2:2 chroma, the true Cb plane
is rebuilt from the file's own DCT coefficients (jpeglib), the plane is recovered from the decoded RGB pixels by the
detector's least-squares inversion, and the DCT of their difference is collected per mode, leaving out blocks that
touch a clipped pixel. The printed 99.5th percentiles, divided by 3, are the per-mode noise floors in
``_jpeg_chroma.MODE_FLOOR`` (a coefficient then counts as off the lattice from about the 99.5th percentile of the
decoder's own error)::

    python benchmarks/jpeg_chroma_noise.py ../shared/data/photos/camera
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jpeglib
import numpy as np
from PIL import Image, JpegImagePlugin
from scipy.fft import dctn, idctn

from pixelsleuth.bench.synth import list_photos
from pixelsleuth.detectors._jpeg_chroma import _recover, rgb_to_chroma


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos", type=Path)
    ap.add_argument("--split", default="train")
    args = ap.parse_args()
    acc: dict[str, list[np.ndarray]] = {"4:2:0": [], "4:2:2": []}
    n_files = {"4:2:0": 0, "4:2:2": 0}
    for p in list_photos(args.photos, split=args.split):
        if p.suffix.lower() not in (".jpg", ".jpeg"):
            continue
        im = Image.open(p)
        sub = {1: "4:2:2", 2: "4:2:0"}.get(JpegImagePlugin.get_sampling(im))
        if sub is None:
            continue
        j = jpeglib.read_dct(str(p))
        b = idctn(j.Cb * j.qt[j.quant_tbl_no[1]], axes=(2, 3), norm="ortho") + 128
        true = np.clip(np.round(b.transpose(0, 2, 1, 3).reshape(b.shape[0] * 8, b.shape[1] * 8)), 0, 255)
        rgb = np.asarray(im.convert("RGB"))
        c = _recover(rgb_to_chroma(rgb)[0], sub, (0, 0))
        hh, ww = (min(c.shape[0], true.shape[0]) // 8) * 8, (min(c.shape[1], true.shape[1]) // 8) * 8
        fy, fx = (2, 2) if sub == "4:2:0" else (1, 2)
        clip = ((rgb == 0) | (rgb == 255)).any(axis=2)[: hh * fy, : ww * fx]
        clip = clip.reshape(hh // 8, 8 * fy, ww // 8, 8 * fx).any(axis=(1, 3))
        d = (c[:hh, :ww] - true[:hh, :ww]).reshape(hh // 8, 8, ww // 8, 8).transpose(0, 2, 1, 3)
        acc[sub].append(dctn(d, axes=(2, 3), norm="ortho")[~clip].reshape(-1, 64))
        n_files[sub] += 1
    np.set_printoptions(linewidth=120)
    for sub, parts in acc.items():
        if not parts:
            continue
        d = np.abs(np.concatenate(parts))
        print(f"{sub}: {n_files[sub]} files, {len(d)} blocks; 99.5th percentile of the error per mode:")
        print(np.round(np.percentile(d, 99.5, axis=0).reshape(8, 8), 2))


if __name__ == "__main__":
    main()
