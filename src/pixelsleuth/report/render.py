"""Pixel outputs: 8-bit maps, heat-map colouring, overlays, and image encoding for the HTML page."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

# Anchor colours of a perceptually ordered dark-to-bright heat scale (our own choice of stops).
_STOPS = np.array(
    [
        [0.00, 0, 0, 4],
        [0.25, 87, 16, 110],
        [0.50, 188, 55, 84],
        [0.75, 249, 142, 9],
        [1.00, 252, 255, 164],
    ],
    dtype=np.float32,
)


def map_to_uint8(m: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(m, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def colorize(m: np.ndarray) -> np.ndarray:
    """float map in [0, 1] -> uint8 RGB heat map."""
    v = np.clip(np.asarray(m, dtype=np.float32), 0, 1)
    out = np.empty(v.shape + (3,), dtype=np.uint8)
    for c in range(3):
        out[..., c] = np.interp(v, _STOPS[:, 0], _STOPS[:, c + 1]).astype(np.uint8)
    return out


def overlay(rgb: np.ndarray, m: np.ndarray | None, threshold: float = 0.5) -> np.ndarray:
    """Image dimmed to grey outside, tinted red inside the flagged region, with a soft ramp below threshold."""
    base = rgb.astype(np.float32)
    if m is None:
        return rgb.copy()
    m = np.clip(m.astype(np.float32), 0, 1)
    gray = base.mean(axis=2, keepdims=True)
    dim = 0.55 * base + 0.45 * gray  # desaturate a little so the tint reads clearly
    alpha = np.clip((m - threshold * 0.6) / (threshold * 0.4 + 1e-6), 0, 1)[..., None] * 0.6
    red = np.array([230.0, 20.0, 40.0], dtype=np.float32)
    out = dim * (1 - alpha) + red * alpha
    edge = _edges(m >= threshold)
    out[edge] = red
    return np.clip(out, 0, 255).astype(np.uint8)


def _edges(mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return mask
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def data_uri(arr: np.ndarray, max_side: int = 1600, fmt: str = "JPEG") -> str:
    """Downscaled copy of an image for embedding in a self-contained HTML page."""
    im = Image.fromarray(arr)
    scale = max_side / max(im.size)
    if scale < 1:
        im = im.resize(
            (max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS
        )
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.convert("RGB").save(buf, format="JPEG", quality=88)
        mime = "image/jpeg"
    else:
        im.save(buf, format="PNG")
        mime = "image/png"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")
