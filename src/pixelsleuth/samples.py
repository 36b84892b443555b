"""``pixelsleuth samples DIR``: a small deterministic demo set made from scratch (no third-party images).

Scenes are procedural and photo-like: a sky gradient, layered hills, a sun, houses and trees, fractal texture,
lens vignetting, then a simulated camera pipeline (Bayer mosaic -> demosaic, shot + read noise, mild sharpening,
JPEG 4:2:0 save at quality 92). Forgeries are made from these "camera originals" with the synthesizer
(:mod:`pixelsleuth.bench.synth`), so every edit has an exact mask. Output::

    DIR/images/<name>.jpg|.png demo images (analyse this folder)
    DIR/masks/<name>.png       255 = edited pixels (all 0 for authentic images)
    DIR/manifest.jsonl         image, mask, label, type, description (a valid ``bench`` manifest)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from pixelsleuth.bench.perturbations import decode, encode

W, H = 480, 360


def _fractal(rng: np.random.Generator, h: int, w: int, octaves: int = 5) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        gh, gw = 2 + 2**o, 2 + int(2**o * w / h)
        g = rng.random((gh, gw)).astype(np.float32)
        out += amp * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    out /= total
    return (out - out.min()) / max(float(np.ptp(out)), 1e-6)


def scene(seed: int, h: int = H, w: int = W) -> np.ndarray:
    """A procedural outdoor scene, float32 RGB in [0, 1] (before the camera pipeline)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    top = np.array(rng.choice([[0.25, 0.45, 0.85], [0.55, 0.6, 0.8], [0.9, 0.55, 0.35]]), np.float32)
    bottom = np.array([0.85, 0.9, 0.95], np.float32)
    t = (yy / h)[..., None]
    img = top * (1 - t) + bottom * t
    clouds = _fractal(rng, h, w)[..., None]
    img = img * (1 - 0.25 * clouds) + 0.25 * clouds
    sun = (int(rng.integers(w // 6, 5 * w // 6)), int(rng.integers(h // 10, h // 3)))
    cv2.circle(img, sun, int(rng.integers(14, 30)), (1.0, 0.95, 0.7), -1, cv2.LINE_AA)
    for layer in range(3):  # hills, far to near
        base = h * (0.45 + 0.15 * layer)
        ph = rng.uniform(0, 6.28, 3)
        ridge = base + sum(h * 0.04 / (k + 1) * np.sin(xx[0] / w * (3 + 4 * k) + ph[k]) for k in range(3))
        col = np.array(rng.choice([[0.2, 0.45, 0.2], [0.35, 0.5, 0.25], [0.45, 0.4, 0.3], [0.25, 0.35, 0.3]]))
        col = col * (0.7 + 0.15 * layer)
        tex = _fractal(rng, h, w, 6)[..., None]
        below = (yy >= ridge[None, :])[..., None]
        img = np.where(below, col * (0.75 + 0.5 * tex), img)
    ground_y = int(h * 0.72)
    for _ in range(int(rng.integers(2, 4))):  # houses
        hw, hh = int(rng.integers(40, 80)), int(rng.integers(30, 60))
        x0 = int(rng.integers(5, w - hw - 5))
        y1 = ground_y + int(rng.integers(-10, 30))
        wall = tuple(float(v) for v in rng.uniform(0.5, 0.95, 3))
        cv2.rectangle(img, (x0, y1 - hh), (x0 + hw, y1), wall, -1)
        roof = np.array(
            [[x0 - 6, y1 - hh], [x0 + hw + 6, y1 - hh], [x0 + hw // 2, y1 - hh - hw // 2]], np.int32
        )
        cv2.fillPoly(img, [roof], (0.55, 0.2, 0.15), cv2.LINE_AA)
        for k in range(2):
            wx = x0 + 8 + k * (hw // 2)
            cv2.rectangle(
                img, (wx, y1 - hh + 8), (wx + hw // 5, y1 - hh + 8 + hh // 4), (0.2, 0.25, 0.35), -1
            )
        cv2.rectangle(img, (x0 + hw // 2 - 5, y1 - 18), (x0 + hw // 2 + 5, y1), (0.3, 0.2, 0.1), -1)
    for _ in range(int(rng.integers(3, 7))):  # trees
        tx, ty = int(rng.integers(0, w)), ground_y + int(rng.integers(-20, 60))
        r = int(rng.integers(12, 26))
        cv2.rectangle(img, (tx - 3, ty - r), (tx + 3, ty + r // 2), (0.3, 0.2, 0.1), -1)
        green = (0.1 + rng.uniform(0, 0.1), 0.35 + rng.uniform(0, 0.2), 0.1)
        cv2.ellipse(img, (tx, ty - r), (r, int(r * 1.3)), 0, 0, 360, green, -1, cv2.LINE_AA)
    leaf = _fractal(rng, h, w, 6)[..., None]
    img = img * (0.9 + 0.2 * leaf)
    vig = 1 - 0.25 * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2)[..., None] / 2
    return np.clip(img * vig, 0, 1).astype(np.float32)


def camera(img: np.ndarray, seed: int, quality: int = 92) -> tuple[np.ndarray, bytes]:
    """Simulated camera pipeline: Bayer RGGB mosaic, demosaic, shot + read noise, sharpening, JPEG."""
    rng = np.random.default_rng(seed + 1000)
    h, w = img.shape[:2]
    lin = np.clip(img, 0, 1) ** 2.2 * 3000.0  # electrons
    noisy = rng.poisson(lin).astype(np.float32) + rng.normal(0, 4.0, lin.shape).astype(np.float32)
    v = np.clip(noisy / 3000.0, 0, 1) ** (1 / 2.2)
    raw = np.zeros((h, w), np.float32)
    raw[0::2, 0::2] = v[0::2, 0::2, 0]
    raw[0::2, 1::2] = v[0::2, 1::2, 1]
    raw[1::2, 0::2] = v[1::2, 0::2, 1]
    raw[1::2, 1::2] = v[1::2, 1::2, 2]
    raw8 = (raw * 255).round().astype(np.uint8)
    rgb = cv2.cvtColor(
        raw8, cv2.COLOR_BayerRG2BGR
    )  # gives R,G,B order for our RGGB mosaic (checked in tests)
    blur = cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), 1.0)
    sharp = np.clip(rgb * 1.5 - 0.5 * blur, 0, 255).round().astype(np.uint8)
    data = encode(sharp, "JPEG", quality, 2)
    return decode(data), data


def _save_mask(mask: np.ndarray, path: Path) -> None:
    Image.fromarray((mask > 0).astype(np.uint8) * 255, "L").save(path, "PNG")


def make_samples(out: str | Path, seed: int = 7) -> list[dict[str, Any]]:
    """Write the demo set into ``out``; deterministic for a given seed. Returns the manifest rows."""
    from pixelsleuth.bench.synth import make_forgery

    o = Path(out)
    (o / "masks").mkdir(parents=True, exist_ok=True)
    (o / "images").mkdir(parents=True, exist_ok=True)
    originals = []
    for k in range(4):
        rgb, data = camera(scene(seed * 10 + k), seed * 10 + k)
        originals.append((rgb, data))
    rows: list[dict[str, Any]] = []

    def add(name: str, data: bytes, ext: str, mask: np.ndarray, label: int, kind: str, desc: str) -> None:
        (o / "images" / f"{name}.{ext}").write_bytes(data)
        _save_mask(mask, o / "masks" / f"{name}.png")
        rows.append(
            {
                "image": f"images/{name}.{ext}",
                "mask": f"masks/{name}.png",
                "label": label,
                "type": kind,
                "description": desc,
            }
        )

    zeros = np.zeros((H, W), bool)
    for k in range(3):
        add(
            f"authentic_{k + 1}",
            originals[k][1],
            "jpg",
            zeros,
            0,
            "authentic",
            "Camera original (simulated), JPEG q92.",
        )
    add(
        "resaved_q70",
        encode(originals[0][0], "JPEG", 70),
        "jpg",
        zeros,
        0,
        "resaved",
        "Authentic_1 re-saved at JPEG quality 70: recompressed but not edited.",
    )
    small = cv2.resize(originals[1][0], (W * 3 // 4, H * 3 // 4), interpolation=cv2.INTER_AREA)
    add(
        "resaved_resized",
        encode(small, "JPEG", 80),
        "jpg",
        np.zeros(small.shape[:2], bool),
        0,
        "resaved",
        "Authentic_2 downscaled to 75% and saved at JPEG quality 80: recompressed but not edited.",
    )
    plan = [
        ("spliced_1", "splice", 0, 3, "jpg", 90, "Region pasted from another photo, then saved as JPEG q90."),
        ("spliced_2", "splice", 2, 1, "png", 0, "Region pasted from another photo, saved losslessly (PNG)."),
        (
            "copymoved_1",
            "copymove",
            1,
            None,
            "jpg",
            90,
            "A region copied within the same photo, saved as JPEG q90.",
        ),
        (
            "copymoved_2",
            "copymove",
            3,
            None,
            "png",
            0,
            "A region copied within the same photo, saved as PNG.",
        ),
        (
            "inpainted",
            "inpaint_patch",
            2,
            None,
            "png",
            0,
            "An area removed by patch-based filling, saved as PNG.",
        ),
        ("retouched", "blur", 0, None, "jpg", 92, "A local blur (retouching), saved as JPEG q92."),
    ]
    for i, (name, kind, host, donor, ext, q, desc) in enumerate(plan):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 100 + i]))
        s = make_forgery(kind, originals[host][0], rng, None if donor is None else originals[donor][0])
        data = encode(s.image, "JPEG", q) if ext == "jpg" else encode(s.image, "PNG")
        add(name, data, ext, s.mask, 1, kind, desc)
        if s.source_mask is not None:
            _save_mask(s.source_mask, o / "masks" / f"{name}_source.png")
            rows[-1]["source_mask"] = f"masks/{name}_source.png"
    with open(o / "manifest.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return rows
