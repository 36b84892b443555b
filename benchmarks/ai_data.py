"""AI-generated detection data protocol: fixed file lists and splits, seeded views, feature cache.

Classes: generated (aigen/dmin, aigen/ldif, aigen/disco) vs real (photos/camera, photos/web, every 4th of
photos/bsds500). Splits are prompt-disjoint for generated images (the same 41 prompts are used by all three
generators; each prompt goes to half 0 or 1) and camera-model/file-disjoint for real ones, so that in
leave-one-generator-out runs the test generator never shares a prompt with the training generators.

Every image is first size-normalised exactly as at run time, then cut into 224x224 native-resolution crops.
Both classes pass through the same random re-encoding and resizing (PNG / JPEG 60-95 / WebP 60-95, random
0.5-1.0 downscale); generated images additionally get a random JPEG 70-98 "previous life" half of the time,
since real photos always carry their camera's JPEG. Evaluation conditions per image (one crop position):
``clean`` (as stored), ``jpeg75``, ``social`` (longer side reduced to 1080 px if larger, then JPEG 80),
``swap`` (generated saved as JPEG 75-95, real saved as PNG = unchanged pixels).

Usage: python benchmarks/ai_data.py && python benchmarks/ai_data.py --clip   (split list + feature caches)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(os.environ.get("PIXELSLEUTH_DATA", "/work/shared/data"))
CACHE = Path(os.environ.get("AI_CACHE", "/tmp/pixelsleuth-ai-cache"))
HERE = Path(__file__).resolve().parent
SPLITS = HERE / "ai_splits.json"
GENERATORS = ("dmin", "ldif", "disco")
EVAL_CONDITIONS = ("clean", "jpeg75", "social", "swap")
TRAIN_VIEWS = 2
CLIP_DEGRADED_EVERY = 3
SEED = 20261122


def _h(s: str) -> int:
    return int(hashlib.sha1(s.encode()).hexdigest()[:8], 16)


def build_splits() -> list[dict]:
    rows: list[dict] = []
    for g in GENERATORS:
        for f in sorted((DATA / "aigen" / g).glob("*.png")):
            prompt = f.name.split("__")[0]
            rows.append(
                {"path": f"aigen/{g}/{f.name}", "label": 1, "group": g, "key": prompt, "half": _h(prompt) % 2}
            )
    models: dict[str, str] = {}
    with open(DATA / "photos/camera/MANIFEST.tsv", newline="") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            models[r["file"]] = f"{r['make']} {r['model']}"
    for f in sorted((DATA / "photos/camera").glob("*.jpg")):
        key = models.get(f.name, f.name)
        rows.append(
            {
                "path": f"photos/camera/{f.name}",
                "label": 0,
                "group": "camera",
                "key": key,
                "half": _h(key) % 2,
            }
        )
    for f in sorted((DATA / "photos/web").glob("*.JPEG")):
        rows.append(
            {
                "path": f"photos/web/{f.name}",
                "label": 0,
                "group": "web",
                "key": f.name,
                "half": _h(f.name) % 2,
            }
        )
    for f in sorted((DATA / "photos/bsds500").glob("*.jpg"))[::4]:
        rows.append(
            {
                "path": f"photos/bsds500/{f.name}",
                "label": 0,
                "group": "bsds500",
                "key": f.name,
                "half": _h(f.name) % 2,
            }
        )
    return rows


def load_rgb(rel: str) -> np.ndarray:
    with Image.open(DATA / rel) as im:
        return np.asarray(im.convert("RGB"))


def encode(rgb: np.ndarray, fmt: str, q: int = 90) -> np.ndarray:
    if fmt == "png":
        return rgb
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG" if fmt == "jpeg" else "WEBP", quality=int(q))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def resize(rgb: np.ndarray, s: float) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def crop(rgb: np.ndarray, rng: np.random.Generator, size: int = 224) -> np.ndarray:
    from pixelsleuth.models.ai_common import pad_to_tile

    rgb = pad_to_tile(rgb)
    h, w = rgb.shape[:2]
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    return np.ascontiguousarray(rgb[y : y + size, x : x + size])


def train_view(rgb: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray:
    if label == 1 and rng.random() < 0.5:
        rgb = encode(rgb, "jpeg", int(rng.integers(70, 99)))
    if rng.random() < 0.5:
        s = float(rng.uniform(0.5, 1.0))
        if min(rgb.shape[:2]) * s >= 224:
            rgb = resize(rgb, s)
    c = crop(rgb, rng)
    u = rng.random()
    if u < 0.45:
        c = encode(c, "jpeg", int(rng.integers(60, 96)))
    elif u < 0.65:
        c = encode(c, "webp", int(rng.integers(60, 96)))
    return c


def eval_views(rgb: np.ndarray, label: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    state = rng.bit_generator.state
    out = {}
    for cond in EVAL_CONDITIONS:
        rng.bit_generator.state = state  # same crop position for every condition
        img = rgb
        if cond == "jpeg75":
            img = encode(img, "jpeg", 75)
        elif cond == "social":
            h, w = img.shape[:2]
            if max(h, w) > 1080:
                img = resize(img, 1080 / max(h, w))
            img = encode(img, "jpeg", 80)
        elif cond == "swap" and label == 1:
            img = encode(img, "jpeg", 75 + _h(str(rgb.shape) + str(int(rgb[0, 0, 0]))) % 21)
        out[cond] = crop(img, rng)
    return out


def extract(with_clip: bool, limit: int | None = None) -> Path:
    """Artifact features for every view; with ``with_clip`` only CLIP embeddings of the evaluation views."""
    from pixelsleuth.detectors.ai_artifact import artifact_features
    from pixelsleuth.models.ai_common import normalise_size

    rows = build_splits()
    SPLITS.write_text(json.dumps({"seed": SEED, "data_root": str(DATA), "items": rows}, indent=0))
    if limit:
        rows = rows[:: max(1, len(rows) // limit)]
    CACHE.mkdir(parents=True, exist_ok=True)
    keys = [f"train{i}" for i in range(TRAIN_VIEWS)] + list(EVAL_CONDITIONS)
    feats: dict[str, list[np.ndarray]] = {k: [] for k in (EVAL_CONDITIONS if with_clip else keys)}
    t0 = time.time()
    for i, r in enumerate(rows):
        rng = np.random.default_rng([SEED, _h(r["path"])])
        rgb, _ = normalise_size(load_rgb(r["path"]))
        views = {f"train{j}": train_view(rgb, r["label"], rng) for j in range(TRAIN_VIEWS)}
        views.update(eval_views(rgb, r["label"], rng))
        if with_clip:
            from pixelsleuth.detectors.ai_clip_probe import clip_embed

            # CPU budget: 'clean' for every image, the degraded conditions for every CLIP_DEGRADED_EVERY-th
            degraded = i % CLIP_DEGRADED_EVERY == 0
            ck = [
                k
                for k in EVAL_CONDITIONS
                if k == "clean" or (degraded and not (k == "swap" and r["label"] == 0))
            ]
            emb = dict(zip(ck, clip_embed([views[k] for k in ck]), strict=True))
            if degraded:
                emb.setdefault("swap", emb["clean"])  # real 'swap' == 'clean' (PNG is lossless)
            nan = np.full(512, np.nan, np.float32)
            for k in feats:
                feats[k].append(emb.get(k, nan))
        else:
            for k in keys:
                feats[k].append(artifact_features(views[k]))
        if i % 50 == 0:
            print(f"{i}/{len(rows)} {time.time() - t0:.0f}s", flush=True)
    prefix = "clip" if with_clip else "art"
    out = CACHE / f"feats_{prefix}.npz"
    np.savez_compressed(
        out,
        paths=np.array([r["path"] for r in rows]),
        labels=np.array([r["label"] for r in rows]),
        groups=np.array([r["group"] for r in rows]),
        halves=np.array([r["half"] for r in rows]),
        **{
            f"{prefix}_{k}": np.stack(v).astype(np.float32 if with_clip else np.float64)
            for k, v in feats.items()
        },
    )
    print(f"wrote {out} ({len(rows)} images, {time.time() - t0:.0f}s)")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--clip",
        action="store_true",
        help="CLIP embeddings of the evaluation views (needs the registry model)",
    )
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args()
    sys.exit(0 if extract(a.clip, a.limit) else 1)
