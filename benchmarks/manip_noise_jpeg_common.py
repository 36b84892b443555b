"""Shared synthetic-forgery generation and metrics for the noise/JPEG detector benchmarks.

Data: /work/shared/data/photos/camera (332 lossless crops of camera JPEGs, MANIFEST order) and photos/web.
Fixed split: MANIFEST rows with an even index are the *calibration* split (used to fit the score models), odd rows
are the *test* split (every number in docs/bench/noise_jpeg.md comes from the test split). Everything is seeded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

DATA = Path("/work/shared/data/photos")


@dataclass
class Case:
    name: str
    kind: str  # e.g. "splice_png", "auth_png", "dq_70_90", "dq_auth_70_90"
    data: bytes
    mask: np.ndarray | None  # bool H x W (display), None for authentic
    forged: bool


def camera_list(split: str) -> list[tuple[str, str]]:
    """[(path, make)] for the split ('calib' = even MANIFEST rows, 'test' = odd)."""
    rows = list(csv.DictReader(open(DATA / "camera" / "MANIFEST.tsv"), delimiter="\t"))
    par = 0 if split == "calib" else 1
    return [(str(DATA / "camera" / r["file"]), r["make"]) for i, r in enumerate(rows) if i % 2 == par]


def web_list(split: str) -> list[str]:
    rows = list(csv.DictReader(open(DATA / "web" / "MANIFEST.tsv"), delimiter="\t"))
    par = 0 if split == "calib" else 1
    return [str(DATA / "web" / r["path"]) for i, r in enumerate(rows) if i % 2 == par]


def read_rgb(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def encode(rgb: np.ndarray, fmt: str, q: int = 90) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(rgb)
    if fmt == "PNG":
        im.save(buf, format="PNG", compress_level=1)
    else:
        im.save(buf, format="JPEG", quality=q, subsampling=2)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def random_mask(
    shape: tuple[int, int], rng: np.random.Generator, amin: float = 0.03, amax: float = 0.2
) -> np.ndarray:
    """A random ellipse or polygon covering amin..amax of the image."""
    h, w = shape
    for _ in range(50):
        area = rng.uniform(amin, amax) * h * w
        m = np.zeros((h, w), np.uint8)
        if rng.random() < 0.5:
            ar = rng.uniform(0.5, 2.0)
            a = np.sqrt(area / np.pi * ar)
            b = area / (np.pi * a)
            cx, cy = (
                rng.uniform(a, w - a) if w > 2 * a else w / 2,
                rng.uniform(b, h - b) if h > 2 * b else h / 2,
            )
            cv2.ellipse(m, (int(cx), int(cy)), (int(a), int(b)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
        else:
            r = np.sqrt(area / np.pi) * 1.3
            cx, cy = (
                rng.uniform(r, w - r) if w > 2 * r else w / 2,
                rng.uniform(r, h - r) if h > 2 * r else h / 2,
            )
            ang = np.sort(rng.uniform(0, 2 * np.pi, 7))
            rad = r * rng.uniform(0.6, 1.0, 7)
            pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).astype(np.int32)
            cv2.fillPoly(m, [pts], 1)
        frac = m.mean()
        if amin * 0.6 <= frac <= amax * 1.3:
            return m.astype(bool)
    return m.astype(bool)


def paste(host: np.ndarray, donor: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paste donor pixels into host under mask (donor cropped at a random offset, resized up if too small)."""
    h, w = host.shape[:2]
    if donor.shape[0] < h or donor.shape[1] < w:
        f = max(h / donor.shape[0], w / donor.shape[1]) * 1.01
        donor = cv2.resize(donor, (int(donor.shape[1] * f) + 1, int(donor.shape[0] * f) + 1))
    oy = int(rng.integers(0, donor.shape[0] - h + 1))
    ox = int(rng.integers(0, donor.shape[1] - w + 1))
    d = donor[oy : oy + h, ox : ox + w]
    out = host.copy()
    out[mask] = d[mask]
    return out


def noise_cases(split: str, n: int | None = None, seed: int = 0) -> Iterator[Case]:
    """Splices (donor from another camera make), noise-added and blurred regions, plus authentic controls."""
    rng = np.random.default_rng(seed + (0 if split == "calib" else 1000))
    cams = camera_list(split)
    if n is not None:
        cams = cams[:n]
    for i, (path, make) in enumerate(cams):
        host = read_rgb(path)
        base = Path(path).stem
        others = [p for p, mk in cams if mk != make]
        donor = read_rgb(others[int(rng.integers(len(others)))])
        m = random_mask(host.shape[:2], rng)
        sp = paste(host, donor, m, rng)
        fmt_q = ("PNG", 0) if i % 2 == 0 else ("JPEG", 95)
        tag = "png" if fmt_q[0] == "PNG" else "jpg95"
        yield Case(f"{base}_splice", f"splice_{tag}", encode(sp, *fmt_q), m, True)
        yield Case(f"{base}_auth", f"auth_{tag}", encode(host, *fmt_q), None, False)
        m2 = random_mask(host.shape[:2], rng)
        sig = float(rng.uniform(2.0, 5.0))
        noisy = host.astype(np.float32) + rng.normal(0, sig, host.shape).astype(np.float32) * m2[..., None]
        yield Case(
            f"{base}_noise", f"noise_{tag}", encode(np.clip(noisy, 0, 255).astype(np.uint8), *fmt_q), m2, True
        )
        m3 = random_mask(host.shape[:2], rng)
        bl = cv2.GaussianBlur(host, (0, 0), float(rng.uniform(1.0, 2.0)))
        out = host.copy()
        out[m3] = bl[m3]
        yield Case(f"{base}_blur", f"blur_{tag}", encode(out, *fmt_q), m3, True)


DQ_PAIRS = [(60, 80), (60, 90), (70, 85), (70, 95), (75, 90), (80, 95), (85, 95)]
DQ_LOWER = [(90, 75), (95, 80)]  # second quality lower than the first: the hard case


def dq_cases(
    split: str, n: int | None = None, seed: int = 0, pairs: list[tuple[int, int]] | None = None
) -> Iterator[Case]:
    """Aligned double JPEG: host (rescaled 0.8 to erase camera traces) saved at Q1, a region from a rescaled donor
    (never compressed on this grid) pasted in, saved at Q2. Authentic controls: same host, Q1 then Q2, no paste;
    and single-compressed at Q2."""
    rng = np.random.default_rng(seed + 7 + (0 if split == "calib" else 1000))
    cams = camera_list(split)
    if n is not None:
        cams = cams[:n]
    pairs = pairs or DQ_PAIRS
    for i, (path, _make) in enumerate(cams):
        src = read_rgb(path)
        host = cv2.resize(src, (410, 410), interpolation=cv2.INTER_AREA)
        donor_src = read_rgb(cams[(i + 7) % len(cams)][0])
        donor = cv2.resize(donor_src, (430, 430), interpolation=cv2.INTER_AREA)
        q1, q2 = pairs[i % len(pairs)]
        base = Path(path).stem
        first = decode(encode(host, "JPEG", q1))
        m = random_mask(first.shape[:2], rng, 0.05, 0.25)
        forged = paste(first, donor, m, rng)
        yield Case(f"{base}_dq", f"dq_{q1}_{q2}", encode(forged, "JPEG", q2), m, True)
        yield Case(f"{base}_dqauth", f"dqauth_{q1}_{q2}", encode(first, "JPEG", q2), None, False)
        yield Case(f"{base}_sq", f"sq_{q2}", encode(host, "JPEG", q2), None, False)


def inverse_cases(split: str, n: int | None = None, seed: int = 0, aligned: bool = True) -> Iterator[Case]:
    """The reverse situation: a never-compressed host (rescaled camera photo) receives a region from a JPEG donor
    (quality 50-70), then everything is saved at 85-95. ``aligned``: the donor's grid matches the host's (JPEG
    ghost / inverse double-quantization case); otherwise the donor is shifted by a non-multiple of 8 (misaligned
    grid case)."""
    rng = np.random.default_rng(seed + 11 + (0 if split == "calib" else 1000) + (0 if aligned else 500))
    cams = camera_list(split)
    if n is not None:
        cams = cams[:n]
    for i, (path, _make) in enumerate(cams):
        host = cv2.resize(read_rgb(path), (410, 410), interpolation=cv2.INTER_AREA)
        donor = cv2.resize(read_rgb(cams[(i + 5) % len(cams)][0]), (430, 430), interpolation=cv2.INTER_AREA)
        q1 = (50, 60, 70)[i % 3]
        q2 = (85, 90, 95)[(i // 3) % 3]
        dj = decode(encode(donor, "JPEG", q1))
        if aligned:
            d = dj[:410, :410]
        else:
            dy, dx = int(rng.integers(1, 8)), int(rng.integers(1, 8))
            d = dj[dy : dy + 410, dx : dx + 410]
        m = random_mask((410, 410), rng, 0.05, 0.25)
        out = host.copy()
        out[m] = d[m]
        tag = "inv" if aligned else "na"
        base = Path(path).stem
        yield Case(f"{base}_{tag}", f"{tag}_{q1}_{q2}", encode(out, "JPEG", q2), m, True)
        yield Case(f"{base}_{tag}auth", f"{tag}auth_{q2}", encode(host, "JPEG", q2), None, False)


# ---------------------------------------------------------------------------------------------------------------
# metrics


def pixel_auc(m: np.ndarray, gt: np.ndarray, max_px: int = 60000, seed: int = 0) -> float:
    from sklearn.metrics import roc_auc_score

    y = gt.ravel()
    s = m.ravel()
    if y.all() or not y.any():
        return float("nan")
    if y.size > max_px:
        idx = np.random.default_rng(seed).choice(y.size, max_px, replace=False)
        y, s = y[idx], s[idx]
    return float(roc_auc_score(y, s))


def f1_at(m: np.ndarray, gt: np.ndarray, t: float) -> float:
    p = m > t
    tp = float((p & gt).sum())
    fp = float((p & ~gt).sum())
    fn = float((~p & gt).sum())
    return 2 * tp / (2 * tp + fp + fn + 1e-9)


def best_f1(m: np.ndarray, gt: np.ndarray) -> float:
    """Best pixel F1 over thresholds (and over the inverted map is NOT taken: polarity is part of the method)."""
    ts = np.unique(np.quantile(m, np.linspace(0.0, 0.995, 60)))
    return max([f1_at(m, gt, float(t) - 1e-6) for t in ts] + [0.0])


def all_ones_f1(gt: np.ndarray) -> float:
    return 2 * gt.mean() / (1 + gt.mean())
