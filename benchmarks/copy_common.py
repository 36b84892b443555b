"""Shared data lists and query transforms for the copy-detection benchmarks (seeded, reproducible).

Data (read /work/shared/data/*/SOURCE.md): the scene photos of photos/{bsds500,web,camera} are split by a stable
hash of the relative path into A (60 %: references that get copy queries) and B (40 %: sources of non-copy queries,
never indexed); aigen/ images, camera/ chart, flat-field and HDR-pair shots and photos/full/ originals are
distractor references (indexed, never queried; see data_lists). Images are reduced to at most 1024 px
on the long side on load (the 16 full-size camera originals are up to 6000 px).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pixelsleuth.bench import perturbations as P

DATA = Path("/work/shared/data")
MAX_SIDE = 1024
EXT = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
LISTS = Path(__file__).with_name("copy_data_lists.json")


def _files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(DATA)) for p in d.rglob("*") if p.suffix.lower() in EXT and p.is_file())


def data_lists() -> dict[str, list[str]]:
    """A / B / distractor lists; recorded in copy_data_lists.json (reused when present, so splits never move)."""
    if LISTS.exists():
        return json.loads(LISTS.read_text())
    # camera/ holds 100 ColorChecker chart shots, 15 flat-field shots and 4 HDR on/off pairs: the same chart or
    # surface photographed again and again, i.e. genuine near-duplicates of each other; full/ holds the originals
    # some camera/ crops were cut from. They would be copies of each other across the A/B split, so they are
    # indexed as distractors only (never queried, never non-copy queries).
    import csv

    dup_notes = ("ColorChecker", "flat-field", "HDR on/off")
    manifest = DATA / "photos" / "camera" / "MANIFEST.tsv"
    near_dups = set()
    with manifest.open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if any(k in (row.get("note") or "") for k in dup_notes):
                near_dups.add(f"photos/camera/{row['file']}")
    photos = []
    for sub in ("bsds500", "web", "camera"):
        photos += [p for p in _files(DATA / "photos" / sub) if p not in near_dups]
    a = [p for p in photos if int(hashlib.sha1(p.encode()).hexdigest(), 16) % 10 < 6]
    b = [p for p in photos if p not in set(a)]
    distractors = _files(DATA / "aigen") + sorted(near_dups) + _files(DATA / "photos" / "full")
    lists = {"A_references": a, "B_noncopy_sources": b, "distractors": distractors}
    LISTS.write_text(json.dumps(lists, indent=1))
    return lists


def load(rel: str) -> np.ndarray:
    im = Image.open(DATA / rel)
    im.draft("RGB", (MAX_SIDE, MAX_SIDE))
    a = np.asarray(im.convert("RGB"))
    h, w = a.shape[:2]
    s = MAX_SIDE / max(h, w)
    if s < 1:
        a = cv2.resize(a, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(a)


def emoji(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A yellow smiley sticker, 8-25 % of the short side, at a random place."""
    out = img.copy()
    h, w = img.shape[:2]
    r = max(6, int(min(h, w) * rng.uniform(0.04, 0.125)))
    cx, cy = int(rng.integers(r, max(r + 1, w - r))), int(rng.integers(r, max(r + 1, h - r)))
    cv2.circle(out, (cx, cy), r, (255, 214, 0), -1, cv2.LINE_AA)
    cv2.circle(out, (cx - r // 3, cy - r // 4), max(1, r // 8), (40, 30, 0), -1)
    cv2.circle(out, (cx + r // 3, cy - r // 4), max(1, r // 8), (40, 30, 0), -1)
    cv2.ellipse(out, (cx, cy + r // 8), (r // 2, r // 3), 0, 20, 160, (40, 30, 0), max(1, r // 10))
    return out


def perspective(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Move each corner inwards by up to 12 % of the side (keystone-like), same canvas."""
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jit = rng.uniform(0, 0.12, (4, 2)) * np.array([w, h])
    sign = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])
    dst = (src + sign * jit).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, m, (w, h), borderValue=(0, 0, 0))


def padding(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    t, b, l_, r = (int(rng.uniform(0, 0.3) * s) for s in (h, h, w, w))
    color = tuple(int(c) for c in rng.integers(0, 256, 3))
    return cv2.copyMakeBorder(img, t, b, l_, r, cv2.BORDER_CONSTANT, value=color)


TRANSFORMS = {
    "crop": lambda im, rng: P.crop(im, float(rng.uniform(0.2, 0.9)), rng),
    "resize": lambda im, rng: P.resize(im, float(rng.uniform(0.3, 1.5))),
    "jpeg": lambda im, rng: P.jpeg(im, int(rng.integers(30, 91))),
    "rotate": lambda im, rng: P.rotate(im, float(rng.uniform(-20, 20))),
    "hflip": lambda im, rng: P.hflip(im),
    "vflip": lambda im, rng: P.vflip(im),
    "colorjitter": lambda im, rng: P.colorjitter(
        im, float(rng.uniform(-30, 30)), float(rng.uniform(0.5, 1.5)), float(rng.uniform(0.7, 1.3))
    ),
    "grayscale": lambda im, rng: P.grayscale(im),
    "text": lambda im, rng: P.overlay_text(im, rng),
    "emoji": emoji,
    "blur": lambda im, rng: P.blur(im, float(rng.uniform(0.5, 3.0))),
    "padding": padding,
    "perspective": perspective,
    "screenshot": lambda im, rng: P.screenshot(im, rng),
}


def make_query(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """1-3 distinct random transforms, then a final JPEG (q 70-95) as queries are shared files."""
    names = list(rng.choice(sorted(TRANSFORMS), size=int(rng.integers(1, 4)), replace=False))
    out = img
    for n in names:
        out = TRANSFORMS[n](out, rng)
        if min(out.shape[:2]) < 16:
            out = cv2.resize(out, (max(16, out.shape[1]), max(16, out.shape[0])))
    out = P.jpeg(np.ascontiguousarray(out), int(rng.integers(70, 96)))
    return out, names


def crop25_query(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep 25 % of the area (random position and aspect 0.6-1.6), rescale 0.5-1.2x, JPEG 75."""
    h, w = img.shape[:2]
    aspect = float(rng.uniform(0.6, 1.6))
    cw = int(round(np.sqrt(0.25 * h * w * aspect)))
    ch = int(round(0.25 * h * w / max(1, cw)))
    cw, ch = min(cw, w), min(ch, h)
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    out = P.resize(np.ascontiguousarray(img[y0 : y0 + ch, x0 : x0 + cw]), float(rng.uniform(0.5, 1.2)))
    return P.jpeg(out, 75)


def micro_ap(preds: list[tuple[int, int, float]], gt: dict[int, int], n_pos: int) -> float:
    """ISC-2021 micro-average precision: all (query, reference, score) predictions pooled and sorted by score;
    a prediction is correct when the reference is the query's original (counted once); divided by the number of
    queries that have an original."""
    preds = sorted(preds, key=lambda t: -t[2])
    tp = 0
    seen: set[int] = set()
    ap = 0.0
    for i, (q, r, _) in enumerate(preds, 1):
        if gt.get(q) == r and q not in seen:
            seen.add(q)
            tp += 1
            ap += tp / i
    return ap / max(1, n_pos)


def recall_at_precision(
    preds: list[tuple[int, int, float]], gt: dict[int, int], n_pos: int, p: float = 0.9
) -> float:
    preds = sorted(preds, key=lambda t: -t[2])
    tp = 0
    best = 0.0
    seen: set[int] = set()
    for i, (q, r, _) in enumerate(preds, 1):
        if gt.get(q) == r and q not in seen:
            seen.add(q)
            tp += 1
        if tp / i >= p:
            best = max(best, tp / n_pos)
    return best
