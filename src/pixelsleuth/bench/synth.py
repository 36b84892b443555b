"""Forgery synthesizer: labelled, reproducible forgeries with exact masks from real photographs.

``synthesize(src, out, n=..., types=..., seed=...)`` (CLI: ``pixelsleuth synth``) writes::

    out/images/<id>.png|.jpg      the forged or authentic image
    out/masks/<id>.png            255 = tampered pixels (all 0 for authentic controls)
    out/masks/<id>_src.png        copy-move only: the region that was copied
    out/manifest.jsonl            one JSON object per image (fields below)
    out/manifest.csv              the same rows (``params`` as a JSON string)

Manifest fields: ``id, image, mask, source_mask, label (1 forged / 0 authentic), type, params, source, donor,
seed, group, split, width, height, format``. ``group`` is the source photo's stem: a forgery and the authentic
control of the same photo share it, so group-aware splits never separate them.

Held-apart split: a source photo is in ``test`` when ``int(sha256(basename)[:8], 16) % 100 < 30`` and in
``train`` otherwise (:func:`split_of`). It depends only on the file's base name, so it is the same wherever the
data lies. Donor photos for splicing are drawn from the same split as the host photo. Train on ``--split train``,
report on ``--split test``.

Ground truth rule: the mask marks the pixels the edit replaced. With feathered blending the boundary is where the
blending weight reaches 0.5; with Poisson blending it is the whole cloned region.

Every sample ``i`` uses its own generator ``default_rng(SeedSequence([seed, i]))``, so a run is reproducible and
any sample can be regenerated alone.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from pixelsleuth.bench.perturbations import decode, encode

SYNTH_TYPES: tuple[str, ...] = (
    "splice",
    "copymove",
    "inpaint_telea",
    "inpaint_ns",
    "inpaint_patch",
    "resample",
    "blur",
    "sharpen",
    "median",
    "color",
    "contrast",
    "double_jpeg",
)
"""Forgery types (``authentic`` controls are added per source photo unless disabled)."""

PHOTO_EXTS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
TEST_PERCENT = 30


# --------------------------------------------------------------------------------------------- split and sources


def split_of(name: str | Path) -> str:
    """``"test"`` for about 30% of photos, ``"train"`` for the rest, from a hash of the file's base name."""
    base = Path(name).name
    h = int(hashlib.sha256(base.encode("utf-8")).hexdigest()[:8], 16)
    return "test" if h % 100 < TEST_PERCENT else "train"


def list_photos(src: str | Path | Sequence[str | Path], split: str = "all") -> list[Path]:
    """Photos under one or more folders (recursive), sorted, filtered by split (``train``, ``test``, ``all``)."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be train, test or all, not {split!r}")
    roots = [src] if isinstance(src, str | Path) else list(src)
    out: list[Path] = []
    for r in roots:
        p = Path(r)
        if p.is_file():
            out.append(p)
            continue
        if not p.is_dir():
            raise FileNotFoundError(f"no such folder: {p}")
        out.extend(q for q in p.rglob("*") if q.suffix.lower() in PHOTO_EXTS and q.is_file())
    out = sorted(set(out))
    if split != "all":
        out = [p for p in out if split_of(p) == split]
    return out


def load_rgb(path: str | Path, max_side: int | None = 1024) -> np.ndarray:
    """Decode a photo to uint8 RGB (EXIF orientation applied), downscaled so its long side is <= ``max_side``."""
    from PIL import ImageOps

    with Image.open(path) as im:
        im2 = ImageOps.exif_transpose(im)
        rgb = np.asarray(im2.convert("RGB"), dtype=np.uint8).copy()
    if max_side and max(rgb.shape[:2]) > max_side:
        f = max_side / max(rgb.shape[:2])
        size = (max(1, round(rgb.shape[1] * f)), max(1, round(rgb.shape[0] * f)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return rgb


# --------------------------------------------------------------------------------------------- mask shapes


def _radius_for_area(shape: tuple[int, ...], area_frac: float) -> float:
    h, w = shape[:2]
    return float(np.sqrt(area_frac * h * w / np.pi))


def blob_mask(
    shape: tuple[int, ...], rng: np.random.Generator, area_frac: float, center: tuple[int, int] | None = None
) -> np.ndarray:
    """A smooth random star-shaped blob (Fourier-perturbed circle) of about ``area_frac`` of the image (bool)."""
    h, w = shape[:2]
    r0 = _radius_for_area(shape, area_frac)
    t = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    rad = np.ones_like(t)
    for k in range(2, 6):
        rad += rng.uniform(0, 0.35 / k * 2) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    rad = np.clip(rad, 0.35, None)
    rad *= r0 / np.sqrt(np.mean(rad**2))
    sx, sy = (rng.uniform(0.7, 1.4) for _ in range(2))
    cy, cx = center if center is not None else _random_center(shape, r0 * max(sx, sy) * rad.max() / r0, rng)
    pts = np.stack([cx + sx * rad * np.cos(t), cy + sy * rad * np.sin(t)], axis=1)
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    return m.astype(bool)


def polygon_mask(
    shape: tuple[int, ...], rng: np.random.Generator, area_frac: float, center: tuple[int, int] | None = None
) -> np.ndarray:
    """A random star-shaped polygon (5-12 vertices) of about ``area_frac`` of the image (bool)."""
    h, w = shape[:2]
    r0 = _radius_for_area(shape, area_frac)
    k = int(rng.integers(5, 13))
    t = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = rng.uniform(0.6, 1.3, k)
    rad *= r0 * 1.15 / np.sqrt(np.mean(rad**2))
    cy, cx = center if center is not None else _random_center(shape, float(rad.max()), rng)
    pts = np.stack([cx + rad * np.cos(t), cy + rad * np.sin(t)], axis=1)
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    return m.astype(bool)


def rect_mask(shape: tuple[int, ...], rng: np.random.Generator, area_frac: float) -> np.ndarray:
    """An axis-aligned rectangle (aspect 0.5-2) of about ``area_frac`` of the image (bool)."""
    h, w = shape[:2]
    a = area_frac * h * w
    asp = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    rw = int(np.clip(np.sqrt(a * asp), 4, w - 4))
    rh = int(np.clip(a / max(rw, 1), 4, h - 4))
    y0 = int(rng.integers(2, max(3, h - rh - 2)))
    x0 = int(rng.integers(2, max(3, w - rw - 2)))
    m = np.zeros((h, w), bool)
    m[y0 : y0 + rh, x0 : x0 + rw] = True
    return m


def _random_center(shape: tuple[int, ...], r: float, rng: np.random.Generator) -> tuple[int, int]:
    h, w = shape[:2]
    m = int(np.ceil(r)) + 3
    cy = int(rng.integers(min(m, h // 2), max(min(m, h // 2) + 1, h - m)))
    cx = int(rng.integers(min(m, w // 2), max(min(m, w // 2) + 1, w - m)))
    return cy, cx


def _largest_component(m: np.ndarray) -> np.ndarray:
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    if n <= 1:
        return m.astype(bool)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return lab == k


def _fill_holes(m: np.ndarray) -> np.ndarray:
    h, w = m.shape
    ff = np.zeros((h + 2, w + 2), np.uint8)
    ff[1:-1, 1:-1] = m.astype(np.uint8)
    cv2.floodFill(ff, None, (0, 0), 2)
    return (ff[1:-1, 1:-1] != 2) | m


def object_mask(img: np.ndarray, rng: np.random.Generator, area_frac: float) -> np.ndarray:
    """An object-like region without GrabCut: within a random window, cluster Lab colour + position into two
    groups (k-means), keep the group under the window centre, its largest component, closed and hole-filled.
    Falls back to a blob if the result is degenerate (bool)."""
    h, w = img.shape[:2]
    r = _radius_for_area(img.shape, area_frac) * 1.6
    cy, cx = _random_center(img.shape, r, rng)
    y0, y1 = max(0, int(cy - r)), min(h, int(cy + r))
    x0, x1 = max(0, int(cx - r)), min(w, int(cx + r))
    win = img[y0:y1, x0:x1]
    lab = cv2.cvtColor(win, cv2.COLOR_RGB2LAB).astype(np.float32)
    yy, xx = np.mgrid[0 : win.shape[0], 0 : win.shape[1]].astype(np.float32)
    d = np.sqrt((yy - (cy - y0)) ** 2 + (xx - (cx - x0)) ** 2) / max(r, 1.0)
    feats = np.concatenate([lab.reshape(-1, 3), 40.0 * d.reshape(-1, 1)], axis=1)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
    _, labels, _ = cv2.kmeans(feats, 2, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    labels = labels.reshape(win.shape[:2])
    sel = labels == labels[min(cy - y0, win.shape[0] - 1), min(cx - x0, win.shape[1] - 1)]
    sel = cv2.morphologyEx(sel.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8)).astype(bool)
    sel = _fill_holes(_largest_component(sel))
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = sel
    frac = m.mean()
    if frac < area_frac * 0.25 or frac > area_frac * 2.5 or sel.mean() > 0.8:
        return blob_mask(img.shape, rng, area_frac)
    return m


def random_mask(img: np.ndarray, rng: np.random.Generator, area_frac: float) -> tuple[np.ndarray, str]:
    kind = str(rng.choice(["blob", "polygon", "rect", "object"], p=[0.35, 0.25, 0.15, 0.25]))
    if kind == "blob":
        return blob_mask(img.shape, rng, area_frac), kind
    if kind == "polygon":
        return polygon_mask(img.shape, rng, area_frac), kind
    if kind == "rect":
        return rect_mask(img.shape, rng, area_frac), kind
    return object_mask(img, rng, area_frac), kind


def feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Soft alpha in [0, 1] from a binary mask; ``alpha >= 0.5`` is (almost exactly) the original mask."""
    a = mask.astype(np.float32)
    if sigma <= 0:
        return a
    return cv2.GaussianBlur(a, (0, 0), sigmaX=float(sigma))


# --------------------------------------------------------------------------------------------- pixel operations


def _bbox(m: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(m)
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def match_color_lab(
    patch: np.ndarray, patch_mask: np.ndarray, ref: np.ndarray, ref_mask: np.ndarray
) -> np.ndarray:
    """Shift/scale ``patch``'s Lab channels so its masked mean/std equal ``ref``'s masked mean/std."""
    pl = cv2.cvtColor(patch, cv2.COLOR_RGB2LAB).astype(np.float32)
    rl = cv2.cvtColor(ref, cv2.COLOR_RGB2LAB).astype(np.float32)
    pm, rm = patch_mask.astype(bool), ref_mask.astype(bool)
    if pm.sum() < 4 or rm.sum() < 4:
        return patch.copy()
    for c in range(3):
        ps, rs = pl[..., c][pm], rl[..., c][rm]
        s = float(rs.std()) / max(float(ps.std()), 1e-3)
        s = float(np.clip(s, 0.5, 2.0))
        pl[..., c] = (pl[..., c] - float(ps.mean())) * s + float(rs.mean())
    return cv2.cvtColor(np.clip(pl, 0, 255).round().astype(np.uint8), cv2.COLOR_LAB2RGB)


def composite(
    dst: np.ndarray, src: np.ndarray, mask: np.ndarray, blend: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Put ``src`` (same size as ``dst``) into ``dst`` where ``mask``; blend = hard | feather | poisson.
    Returns the image, the ground-truth mask and the blending parameters actually used."""
    m = mask.astype(bool)
    if blend == "poisson":
        y0, y1, x0, x1 = _bbox(m)
        h, w = m.shape
        if y0 >= 2 and x0 >= 2 and y1 <= h - 2 and x1 <= w - 2:
            center = (x0 + (x1 - x0) // 2, y0 + (y1 - y0) // 2)
            try:
                out = cv2.seamlessClone(
                    np.ascontiguousarray(src),
                    np.ascontiguousarray(dst),
                    m.astype(np.uint8) * 255,
                    center,
                    cv2.NORMAL_CLONE,
                )
                gt = m | (np.any(out != dst, axis=2))
                return out, gt, {"blend": "poisson"}
            except cv2.error:
                pass
        blend = "feather"
    if blend == "feather":
        sigma = float(rng.uniform(1.0, 3.0))
        a = feather(m, sigma)[..., None]
        out = (a * src.astype(np.float32) + (1 - a) * dst.astype(np.float32)).round().astype(np.uint8)
        gt = a[..., 0] >= 0.5
        return out, gt, {"blend": "feather", "sigma": round(sigma, 3)}
    out = dst.copy()
    out[m] = src[m]
    return out, m, {"blend": "hard"}


def exemplar_fill(
    img: np.ndarray,
    hole: np.ndarray,
    patch: int = 9,
    search: int = 3,
    step: int = 2,
    max_candidates: int = 2500,
) -> np.ndarray:
    """Patch-based (exemplar) hole filling written for this project.

    Repeatedly picks the hole-boundary pixel whose patch has the most known pixels, finds the fully known patch
    (candidates on a ``step`` grid inside a window ``search`` times the hole's size) with the smallest colour SSD on
    the known part, and copies its pixels into the unknown part. Slow-ish but fine for holes of a few percent.
    """
    out = img.astype(np.float32).copy()
    known = ~hole.astype(bool)
    h, w = known.shape
    r = patch // 2
    y0, y1, x0, x1 = _bbox(hole)
    bh, bw = y1 - y0, x1 - x0
    sy0, sy1 = max(0, y0 - search * bh // 2 - patch), min(h, y1 + search * bh // 2 + patch)
    sx0, sx1 = max(0, x0 - search * bw // 2 - patch), min(w, x1 + search * bw // 2 + patch)
    cys = np.arange(sy0 + r, sy1 - r, step)
    cxs = np.arange(sx0 + r, sx1 - r, step)
    kn_int = cv2.integral(known.astype(np.uint8))
    cands = []
    for cy in cys:
        for cx in cxs:
            s = (
                kn_int[cy + r + 1, cx + r + 1]
                - kn_int[cy - r, cx + r + 1]
                - kn_int[cy + r + 1, cx - r]
                + kn_int[cy - r, cx - r]
            )
            if s == patch * patch:
                cands.append((cy, cx))
    if not cands:
        return cv2.inpaint(img, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    ca = np.array(cands)
    if len(ca) > max_candidates:  # deterministic thinning keeps the search bounded
        ca = ca[np.linspace(0, len(ca) - 1, max_candidates).round().astype(int)]
    offs = np.arange(-r, r + 1)
    cand_px = out[ca[:, 0, None, None] + offs[None, :, None], ca[:, 1, None, None] + offs[None, None, :]]
    cand_px = cand_px.reshape(len(ca), -1)
    pad_known = np.pad(known, r, constant_values=False)
    pad_out = np.pad(out, ((r, r), (r, r), (0, 0)))
    # work inside the hole's bounding box (padded coordinates: +r)
    wy0, wy1, wx0, wx1 = y0, y1 + 2 * r, x0, x1 + 2 * r
    kernel = np.ones((patch, patch), np.float32)
    k3 = np.ones((3, 3), np.uint8)
    while True:
        sub_known = pad_known[wy0:wy1, wx0:wx1]
        unk = ~sub_known[r:-r, r:-r]
        if not unk.any():
            break
        er = cv2.erode(unk.astype(np.uint8), k3, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        fy, fx = np.nonzero(unk & (er == 0))
        conf = cv2.filter2D(sub_known.astype(np.float32), -1, kernel, borderType=cv2.BORDER_CONSTANT)[
            r:-r, r:-r
        ]
        i = int(np.argmax(conf[fy, fx]))
        py, px = y0 + int(fy[i]), x0 + int(fx[i])  # image coordinates of the patch centre
        tk = pad_known[py : py + patch, px : px + patch]
        tp = pad_out[py : py + patch, px : px + patch]
        wts = np.repeat(tk.reshape(-1), 3).astype(np.float32)
        d = ((cand_px - tp.reshape(-1)) ** 2) @ wts
        src = cand_px[int(np.argmin(d))].reshape(patch, patch, 3)
        fill = ~tk
        tp[fill] = src[fill]
        tk[fill] = True
    out = pad_out[r:-r, r:-r]
    return np.clip(out, 0, 255).round().astype(np.uint8)


def _unsharp(img: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    b = cv2.GaussianBlur(img.astype(np.float32), (0, 0), sigma)
    return np.clip(img.astype(np.float32) * (1 + amount) - amount * b, 0, 255).round().astype(np.uint8)


# --------------------------------------------------------------------------------------------- forgeries


@dataclass
class SynthSample:
    image: np.ndarray
    mask: np.ndarray  # bool H x W, True = tampered
    label: int
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    source_mask: np.ndarray | None = None
    donor: str = ""
    jpeg_quality: int | None = None  # forces the final save as JPEG at this quality (double JPEG)
    prefilled_bytes: bytes | None = None


def _area(rng: np.random.Generator) -> float:
    return float(rng.uniform(0.015, 0.12))


def _splice(img: np.ndarray, donor: np.ndarray, rng: np.random.Generator) -> SynthSample:
    h, w = img.shape[:2]
    af = _area(rng)
    dm, shape_kind = random_mask(donor, rng, af * (h * w) / (donor.shape[0] * donor.shape[1]))
    dy0, dy1, dx0, dx1 = _bbox(dm)
    ph, pw = dy1 - dy0, dx1 - dx0
    if ph > h - 6 or pw > w - 6:  # donor object too large for this host: scale it down
        f = min((h - 6) / ph, (w - 6) / pw) * 0.8
        patch = cv2.resize(
            donor[dy0:dy1, dx0:dx1], (max(1, int(pw * f)), max(1, int(ph * f))), interpolation=cv2.INTER_AREA
        )
        pm = (
            cv2.resize(
                dm[dy0:dy1, dx0:dx1].astype(np.uint8),
                (patch.shape[1], patch.shape[0]),
                interpolation=cv2.INTER_NEAREST,
            )
            > 0
        )
    else:
        patch, pm = donor[dy0:dy1, dx0:dx1], dm[dy0:dy1, dx0:dx1]
    ph, pw = pm.shape
    ty = int(rng.integers(3, h - ph - 2))
    tx = int(rng.integers(3, w - pw - 2))
    full = img.copy()
    full_m = np.zeros((h, w), bool)
    full_m[ty : ty + ph, tx : tx + pw] = pm
    colour = bool(rng.random() < 0.6)
    if colour:
        ring = cv2.dilate(full_m.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)
        patch = match_color_lab(patch, pm, img, ring)
    full[ty : ty + ph, tx : tx + pw] = patch
    blend = str(rng.choice(["hard", "feather", "poisson"], p=[0.35, 0.35, 0.3]))
    out, gt, bp = composite(img, full, full_m, blend, rng)
    params = {
        "shape": shape_kind,
        "area": round(float(gt.mean()), 4),
        "color_match": colour,
        "at": [ty, tx],
        **bp,
    }
    return SynthSample(out, gt, 1, "splice", params)


def _affine_patch(
    patch: np.ndarray, pm: np.ndarray, angle: float, scale: float, flip: bool
) -> tuple[np.ndarray, np.ndarray]:
    if flip:
        patch, pm = patch[:, ::-1], pm[:, ::-1]
    h, w = pm.shape
    mat = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, scale)
    cos, sin = abs(mat[0, 0]), abs(mat[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)) + 2, int(np.ceil(h * cos + w * sin)) + 2
    mat[0, 2] += nw / 2.0 - w / 2.0
    mat[1, 2] += nh / 2.0 - h / 2.0
    p2 = cv2.warpAffine(
        np.ascontiguousarray(patch), mat, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    m2 = cv2.warpAffine(np.ascontiguousarray(pm).astype(np.uint8), mat, (nw, nh), flags=cv2.INTER_NEAREST) > 0
    return p2, m2


def _copymove(img: np.ndarray, rng: np.random.Generator) -> SynthSample:
    h, w = img.shape[:2]
    for _attempt in range(20):
        af = float(rng.uniform(0.01, 0.08))
        sm, shape_kind = random_mask(img, rng, af)
        y0, y1, x0, x1 = _bbox(sm)
        mode = str(rng.choice(["translate", "rotate", "scale", "flip", "rotate+scale"]))
        angle = float(rng.uniform(-60, 60)) if "rotate" in mode else 0.0
        scale = float(rng.choice([rng.uniform(0.7, 0.9), rng.uniform(1.1, 1.3)])) if "scale" in mode else 1.0
        flip = mode == "flip"
        patch, pm = _affine_patch(img[y0:y1, x0:x1], sm[y0:y1, x0:x1], angle, scale, flip)
        ph, pw = pm.shape
        if ph > h - 6 or pw > w - 6 or pm.sum() < 16:
            continue
        ty = int(rng.integers(3, h - ph - 2))
        tx = int(rng.integers(3, w - pw - 2))
        tm = np.zeros((h, w), bool)
        tm[ty : ty + ph, tx : tx + pw] = pm
        gap = cv2.dilate(sm.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        if (tm & gap).any():
            continue
        full = img.copy()
        full[ty : ty + ph, tx : tx + pw][pm] = patch[pm]
        blend = str(rng.choice(["hard", "feather", "poisson"], p=[0.5, 0.3, 0.2]))
        out, gt, bp = composite(img, full, tm, blend, rng)
        params = {
            "shape": shape_kind,
            "mode": mode,
            "angle": round(angle, 2),
            "scale": round(scale, 3),
            "flip": flip,
            "from": [y0, x0],
            "to": [ty, tx],
            "area": round(float(gt.mean()), 4),
            **bp,
        }
        return SynthSample(out, gt, 1, "copymove", params, source_mask=sm & ~gt)
    raise RuntimeError("could not place a copy-move region without overlap")


def _inpaint(img: np.ndarray, rng: np.random.Generator, method: str) -> SynthSample:
    af = float(rng.uniform(0.005, 0.04)) if method == "patch" else float(rng.uniform(0.005, 0.06))
    m, shape_kind = random_mask(img, rng, af)
    m = _largest_component(m)
    m8 = m.astype(np.uint8)
    params: dict[str, Any] = {"shape": shape_kind, "method": method, "area": round(float(m.mean()), 4)}
    if method == "telea" or method == "ns":
        radius = int(rng.integers(3, 8))
        flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
        out = cv2.inpaint(img, m8, radius, flag)
        params["radius"] = radius
    else:
        patch = int(rng.choice([7, 9, 11]))
        out = exemplar_fill(img, m, patch=patch)
        params["patch"] = patch
    out[~m] = img[~m]
    return SynthSample(out, m, 1, f"inpaint_{method}", params)


def _resample(img: np.ndarray, rng: np.random.Generator) -> SynthSample:
    m, shape_kind = random_mask(img, rng, _area(rng))
    y0, y1, x0, x1 = _bbox(m)
    f = float(rng.choice([rng.uniform(0.6, 0.9), rng.uniform(1.1, 1.6)]))
    h, w = img.shape[:2]
    cy, cx = (y0 + y1) / 2.0, (x0 + x1) / 2.0
    mat = np.array([[f, 0, cx * (1 - f)], [0, f, cy * (1 - f)]], np.float64)
    interp = int(rng.choice([cv2.INTER_LINEAR, cv2.INTER_CUBIC]))
    warped = cv2.warpAffine(img, mat, (w, h), flags=interp, borderMode=cv2.BORDER_REFLECT)
    blend = str(rng.choice(["hard", "feather"]))
    out, gt, bp = composite(img, warped, m, blend, rng)
    params = {
        "shape": shape_kind,
        "factor": round(f, 3),
        "interp": "linear" if interp == cv2.INTER_LINEAR else "cubic",
        **bp,
    }
    params["area"] = round(float(gt.mean()), 4)
    return SynthSample(out, gt, 1, "resample", params)


def _local_filter(img: np.ndarray, rng: np.random.Generator, kind: str) -> SynthSample:
    m, shape_kind = random_mask(img, rng, _area(rng))
    params: dict[str, Any] = {"shape": shape_kind}
    if kind == "blur":
        s = float(rng.uniform(1.0, 3.0))
        filt = cv2.GaussianBlur(img, (0, 0), s)
        params["sigma"] = round(s, 3)
    elif kind == "sharpen":
        a, s = float(rng.uniform(0.6, 1.6)), float(rng.uniform(1.0, 2.5))
        filt = _unsharp(img, a, s)
        params.update(amount=round(a, 3), sigma=round(s, 3))
    elif kind == "median":
        k = int(rng.choice([3, 5, 7]))
        filt = cv2.medianBlur(img, k)
        params["ksize"] = k
    elif kind == "color":
        hue, sat = float(rng.uniform(-25, 25)), float(rng.uniform(0.6, 1.5))
        from pixelsleuth.bench.perturbations import colorjitter

        filt = colorjitter(img, hue, sat, 1.0)
        params.update(hue_deg=round(hue, 2), saturation=round(sat, 3))
    elif kind == "contrast":
        c, b = float(rng.choice([rng.uniform(0.6, 0.85), rng.uniform(1.2, 1.5)])), float(rng.uniform(-25, 25))
        f = img.astype(np.float32)
        mean = float(f[m].mean()) if m.any() else 128.0
        filt = np.clip((f - mean) * c + mean + b, 0, 255).round().astype(np.uint8)
        params.update(contrast=round(c, 3), brightness=round(b, 2))
    else:
        raise ValueError(kind)
    blend = str(rng.choice(["hard", "feather"]))
    out, gt, bp = composite(img, filt, m, blend, rng)
    params.update(bp)
    params["area"] = round(float(gt.mean()), 4)
    return SynthSample(out, gt, 1, kind, params)


def _double_jpeg(img: np.ndarray, donor: np.ndarray, rng: np.random.Generator) -> SynthSample:
    """Host compressed at q1 (optionally shifted by 1-7 px so its grid is misaligned with the final one), a spliced
    region that never saw q1, final save at q2: the mask marks the single-compressed region."""
    q1 = int(rng.choice([60, 65, 70, 75, 80, 85, 90, 95]))
    q2 = int(rng.choice([70, 75, 80, 85, 90, 95]))
    aligned = bool(rng.random() < 0.5)
    dy, dx = (0, 0) if aligned else (int(rng.integers(0, 8)), int(rng.integers(0, 8)))
    if not aligned and dy == 0 and dx == 0:
        dx = int(rng.integers(1, 8))
    first = decode(encode(img, "JPEG", q1))
    h, w = img.shape[:2]
    host = first[dy:, dx:]
    inner = _splice(host, donor, rng)
    params = {
        "q1": q1,
        "q2": q2,
        "aligned": aligned,
        "shift": [dy, dx],
        **{f"splice_{k}": v for k, v in inner.params.items()},
    }
    return SynthSample(inner.image, inner.mask, 1, "double_jpeg", params, jpeg_quality=q2)


def make_forgery(
    kind: str, img: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None = None
) -> SynthSample:
    """One forgery of type ``kind`` (see :data:`SYNTH_TYPES`) of ``img``; ``donor`` is needed for splice and
    double_jpeg."""
    if kind in ("splice", "double_jpeg"):
        if donor is None:
            raise ValueError(f"{kind} needs a donor image")
        return _splice(img, donor, rng) if kind == "splice" else _double_jpeg(img, donor, rng)
    if kind == "copymove":
        return _copymove(img, rng)
    if kind.startswith("inpaint_"):
        return _inpaint(img, rng, kind.split("_", 1)[1])
    if kind == "resample":
        return _resample(img, rng)
    if kind in ("blur", "sharpen", "median", "color", "contrast"):
        return _local_filter(img, rng, kind)
    raise ValueError(f"unknown forgery type {kind!r}; known: {', '.join(SYNTH_TYPES)}")


# --------------------------------------------------------------------------------------------- writing


def _save(img: np.ndarray, path_stem: Path, fmt: str, quality: int) -> tuple[Path, str]:
    if fmt.lower() in ("jpeg", "jpg"):
        p = path_stem.with_suffix(".jpg")
        p.write_bytes(encode(img, "JPEG", quality))
        return p, "JPEG"
    p = path_stem.with_suffix(".png")
    p.write_bytes(encode(img, "PNG"))
    return p, "PNG"


def _save_mask(mask: np.ndarray, path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255, "L").save(buf, "PNG", optimize=True)
    path.write_bytes(buf.getvalue())


MANIFEST_FIELDS = (
    "id",
    "image",
    "mask",
    "source_mask",
    "label",
    "type",
    "params",
    "source",
    "donor",
    "seed",
    "group",
    "split",
    "width",
    "height",
    "format",
)


def synthesize(
    src: str | Path | Sequence[str | Path],
    out: str | Path,
    n: int = 100,
    types: Iterable[str] | None = None,
    seed: int = 0,
    fmt: str = "png",
    quality: int = 90,
    split: str = "all",
    authentic: bool = True,
    max_side: int | None = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Generate ``n`` forgeries (types round-robin) plus one authentic control per distinct source photo.

    Authentic controls get the same final encoding as the forgeries (``fmt``/``quality``); for ``double_jpeg``
    forgeries the control is the same photo compressed twice (q1 then q2) with no edit, so a detector of double
    compression alone is not rewarded.
    """
    kinds = list(types) if types else list(SYNTH_TYPES)
    bad = [k for k in kinds if k not in SYNTH_TYPES]
    if bad:
        raise ValueError(f"unknown forgery types: {', '.join(bad)}; known: {', '.join(SYNTH_TYPES)}")
    photos = list_photos(src, split)
    if len(photos) < 2:
        raise FileNotFoundError(f"need at least 2 photos in {src} (split={split}), found {len(photos)}")
    outp = Path(out)
    (outp / "images").mkdir(parents=True, exist_ok=True)
    (outp / "masks").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    cache: dict[Path, np.ndarray] = {}

    def get(p: Path) -> np.ndarray:
        if p not in cache:
            if len(cache) > 64:
                cache.pop(next(iter(cache)))
            cache[p] = load_rgb(p, max_side)
        return cache[p]

    def base_row(sid: str, p: Path, img: np.ndarray, sseed: int) -> dict[str, Any]:
        return {
            "id": sid,
            "source": str(p),
            "seed": sseed,
            "group": p.stem,
            "split": split_of(p),
            "width": int(img.shape[1]),
            "height": int(img.shape[0]),
        }

    for i in range(n):
        rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
        kind = kinds[i % len(kinds)]
        hp = photos[int(rng.integers(0, len(photos)))]
        img = get(hp)
        donor_p = None
        donor = None
        if kind in ("splice", "double_jpeg"):
            pool = [p for p in photos if p != hp and split_of(p) == split_of(hp)] or [
                p for p in photos if p != hp
            ]
            donor_p = pool[int(rng.integers(0, len(pool)))]
            donor = get(donor_p)
        s = make_forgery(kind, img, rng, donor)
        sid = f"{i:05d}_{kind}"
        row = base_row(sid, hp, s.image, i)
        q = s.jpeg_quality
        ip, f = _save(s.image, outp / "images" / sid, "jpeg" if q else fmt, q or quality)
        _save_mask(s.mask, outp / "masks" / f"{sid}.png")
        srcm = ""
        if s.source_mask is not None:
            _save_mask(s.source_mask, outp / "masks" / f"{sid}_src.png")
            srcm = f"masks/{sid}_src.png"
        row.update(
            image=str(ip.relative_to(outp)),
            mask=f"masks/{sid}.png",
            source_mask=srcm,
            label=1,
            type=kind,
            params={**s.params, "save": f, "quality": q or (quality if f == "JPEG" else None)},
            donor=str(donor_p) if donor_p else "",
            format=f,
        )
        rows.append(row)
        # authentic control of the same photo with the same final encoding
        ctl_key = (
            str(hp),
            f"dj{s.params['q1']}-{s.params['q2']}-{s.params['shift']}" if kind == "double_jpeg" else "plain",
        )
        if authentic and ctl_key not in seen:
            seen.add(ctl_key)
            aid = f"{i:05d}_authentic"
            aimg = img
            aparams: dict[str, Any] = {"variant": "plain"}
            if kind == "double_jpeg":
                dy, dx = s.params["shift"]
                aimg = decode(encode(img, "JPEG", s.params["q1"]))[dy:, dx:]
                aparams = {"variant": "double_jpeg", "q1": s.params["q1"], "q2": q, "shift": [dy, dx]}
            ap, af = _save(aimg, outp / "images" / aid, "jpeg" if q else fmt, q or quality)
            _save_mask(np.zeros(aimg.shape[:2], bool), outp / "masks" / f"{aid}.png")
            arow = base_row(aid, hp, aimg, i)
            arow.update(
                image=str(ap.relative_to(outp)),
                mask=f"masks/{aid}.png",
                source_mask="",
                label=0,
                type="authentic",
                params={**aparams, "save": af, "quality": q or (quality if af == "JPEG" else None)},
                donor="",
                format=af,
            )
            rows.append(arow)
        if progress:
            progress(i + 1, n)
    write_manifest(rows, outp)
    return rows


def write_manifest(rows: list[dict[str, Any]], out: str | Path) -> None:
    outp = Path(out)
    with open(outp / "manifest.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({k: r.get(k, "") for k in MANIFEST_FIELDS}) + "\n")
    with open(outp / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(MANIFEST_FIELDS))
        wr.writeheader()
        for r in rows:
            rr = {k: r.get(k, "") for k in MANIFEST_FIELDS}
            rr["params"] = json.dumps(rr["params"])
            wr.writerow(rr)
