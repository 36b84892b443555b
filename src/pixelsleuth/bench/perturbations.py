"""The shared attack suite: seeded, pure perturbations of uint8 RGB images.

Every perturbation is available two ways:

* as a parametric function (``jpeg(img, q)``, ``resize(img, f)``, ``blur(img, sigma)``, ...), and
* by name from :data:`PERTURBATIONS` (``PERTURBATIONS["jpeg75"](img, rng)``), each entry a callable
  ``(img, rng) -> img`` that is also a :class:`Perturbation` carrying its family, strength and whether it is
  geometric.

Inputs are never modified. ``rng`` is a :class:`numpy.random.Generator`; the random numbers a perturbation draws
depend only on the image *shape*, never on its content, so applying the same name with identically seeded
generators to an image and to its mask (:func:`apply_with_mask`, :func:`apply_to_mask`) gives the same geometry.

Geometric perturbations (they move pixels, so a ground-truth mask must follow them): ``resize*``, ``crop*``,
``rotate*``, ``hflip``, ``vflip``, ``border``, ``screenshot``, ``social`` (it may downscale) and ``combo``
when it picked one of these. All others are photometric and leave masks unchanged. Masks are transformed with
nearest-neighbour interpolation and zero fill, so they stay binary.

Lossy encoders (``jpeg*``, ``webp80``, ``social``) also return the encoded file from :func:`apply_encoded`, so a
benchmark can hand detectors the real compressed file rather than a re-encoded copy.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

__all__ = [
    "GEOMETRIC",
    "PERTURBATIONS",
    "Perturbation",
    "PerturbResult",
    "apply_encoded",
    "apply_to_mask",
    "apply_with_mask",
    "blur",
    "border",
    "brightness",
    "colorjitter",
    "contrast",
    "crop",
    "decode",
    "encode",
    "gamma",
    "grayscale",
    "hflip",
    "jpeg",
    "noise",
    "overlay_text",
    "resize",
    "rotate",
    "screenshot",
    "social",
    "vflip",
    "webp",
]


# --------------------------------------------------------------------------------------------- encoding helpers


def _check(img: np.ndarray) -> np.ndarray:
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected a uint8 H x W x 3 RGB array, got {img.dtype} {img.shape}")
    return img


def encode(img: np.ndarray, fmt: str = "PNG", quality: int = 95, subsampling: int = 2) -> bytes:
    """Encode an RGB array as a file (PNG, JPEG or WEBP) in memory, with no metadata.

    ``subsampling`` is Pillow's JPEG chroma code: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0.
    """
    _check(img)
    im = Image.fromarray(np.ascontiguousarray(img), "RGB")
    buf = io.BytesIO()
    f = fmt.upper()
    if f in ("JPEG", "JPG"):
        im.save(buf, "JPEG", quality=int(quality), subsampling=int(subsampling), optimize=False)
    elif f == "WEBP":
        im.save(buf, "WEBP", quality=int(quality), method=4)
    elif f == "PNG":
        im.save(buf, "PNG", compress_level=1)
    else:
        raise ValueError(f"unsupported format {fmt!r}; use PNG, JPEG or WEBP")
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    """Decode file bytes to a uint8 RGB array."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


# --------------------------------------------------------------------------------------------- result plumbing


@dataclass
class PerturbResult:
    """Image after a perturbation, the mask following it (or None), and the encoded file for lossy encoders."""

    image: np.ndarray
    mask: np.ndarray | None = None
    data: bytes | None = None


_OpFn = Callable[[np.ndarray, np.random.Generator, "np.ndarray | None"], PerturbResult]


@dataclass(frozen=True)
class Perturbation:
    """A named perturbation: callable as ``p(img, rng) -> img``."""

    name: str
    fn: _OpFn
    geometric: bool
    family: str  # e.g. "jpeg", "resize", "blur"; used to group a robustness sweep
    strength: float  # position on the family's axis (JPEG quality, scale factor, sigma, ...)
    description: str = ""

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.fn(_check(img), rng, None).image

    def run(self, img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None = None) -> PerturbResult:
        return self.fn(_check(img), rng, mask)


# --------------------------------------------------------------------------------------------- geometric helpers


def _resize_arr(a: np.ndarray, size_wh: tuple[int, int], is_mask: bool) -> np.ndarray:
    w, h = size_wh
    if (a.shape[1], a.shape[0]) == (w, h):
        return a.copy()
    if is_mask:
        interp = cv2.INTER_NEAREST
    else:
        interp = cv2.INTER_AREA if w < a.shape[1] else cv2.INTER_CUBIC
    src = a.view(np.uint8) if a.dtype == np.bool_ else a
    out = cv2.resize(src, (w, h), interpolation=interp)
    return out.astype(a.dtype) if a.dtype == np.bool_ else out


def _scaled_size(shape: tuple[int, ...], f: float) -> tuple[int, int]:
    h, w = shape[:2]
    return max(1, int(round(w * f))), max(1, int(round(h * f)))


def _mask_u8(mask: np.ndarray) -> np.ndarray:
    return mask.astype(np.uint8) if mask.dtype == np.bool_ else mask


def _mask_back(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    return out.astype(np.bool_) if like.dtype == np.bool_ else out


# --------------------------------------------------------------------------------------------- parametric functions


def jpeg(img: np.ndarray, q: int, subsampling: int = 2) -> np.ndarray:
    """JPEG round trip at libjpeg quality ``q`` (chroma 4:2:0 unless ``subsampling`` says otherwise)."""
    return decode(encode(img, "JPEG", q, subsampling))


def webp(img: np.ndarray, q: int) -> np.ndarray:
    """Lossy WEBP round trip at quality ``q``."""
    return decode(encode(img, "WEBP", q))


def resize(img: np.ndarray, f: float) -> np.ndarray:
    """Rescale both sides by ``f`` (area filter when shrinking, bicubic when enlarging)."""
    _check(img)
    return _resize_arr(img, _scaled_size(img.shape, f), is_mask=False)


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels."""
    _check(img)
    return cv2.GaussianBlur(img, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REFLECT_101)


def noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive white Gaussian noise of standard deviation ``sigma`` (8-bit levels)."""
    _check(img)
    n = rng.normal(0.0, float(sigma), size=img.shape)
    return np.clip(img.astype(np.float64) + n, 0, 255).round().astype(np.uint8)


def brightness(img: np.ndarray, delta: float) -> np.ndarray:
    """Add ``delta`` levels to every channel."""
    _check(img)
    return np.clip(img.astype(np.float32) + float(delta), 0, 255).round().astype(np.uint8)


def contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """Scale deviations from the image mean luma by ``factor``."""
    _check(img)
    f = img.astype(np.float32)
    mean = float(f.mean())
    return np.clip((f - mean) * float(factor) + mean, 0, 255).round().astype(np.uint8)


def gamma(img: np.ndarray, g: float) -> np.ndarray:
    """Gamma curve: out = 255 * (in / 255) ** g."""
    _check(img)
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** float(g), 0, 255).round().astype(np.uint8)
    return lut[img]


def colorjitter(img: np.ndarray, hue_deg: float, sat: float, val: float) -> np.ndarray:
    """Shift hue by ``hue_deg`` degrees and scale saturation and value by ``sat`` and ``val``."""
    _check(img)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = np.mod(hsv[..., 0] + hue_deg * 256.0 / 360.0, 256.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * sat, 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * val, 0, 255)
    return cv2.cvtColor(hsv.round().astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)


def grayscale(img: np.ndarray) -> np.ndarray:
    """BT.601 luma copied into the three channels."""
    _check(img)
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return np.repeat(g[..., None], 3, axis=2)


def hflip(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[:, ::-1])


def vflip(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[::-1])


def _crop_box(
    shape: tuple[int, ...], keep_area: float, rng: np.random.Generator | None
) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    s = float(np.sqrt(keep_area))
    ch, cw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    if rng is None:
        y0, x0 = (h - ch) // 2, (w - cw) // 2
    else:
        y0 = int(rng.integers(0, h - ch + 1))
        x0 = int(rng.integers(0, w - cw + 1))
    return y0, x0, ch, cw


def crop(img: np.ndarray, keep_area: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Keep a window with ``keep_area`` of the area and the image's aspect ratio (centred, or random with rng)."""
    y0, x0, ch, cw = _crop_box(img.shape, keep_area, rng)
    return img[y0 : y0 + ch, x0 : x0 + cw].copy()


def _rot_matrix(shape: tuple[int, ...], deg: float) -> np.ndarray:
    h, w = shape[:2]
    return cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), float(deg), 1.0)


def rotate(img: np.ndarray, deg: float) -> np.ndarray:
    """Rotate about the centre by ``deg`` degrees (counter-clockwise), same canvas size, black corners."""
    _check(img)
    h, w = img.shape[:2]
    return cv2.warpAffine(
        img, _rot_matrix(img.shape, deg), (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0)
    )


def border(img: np.ndarray, width: int, color: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Add a solid frame of ``width`` pixels on every side (the image grows)."""
    _check(img)
    return cv2.copyMakeBorder(img, width, width, width, width, cv2.BORDER_CONSTANT, value=color)


def overlay_text(img: np.ndarray, rng: np.random.Generator, text: str | None = None) -> np.ndarray:
    """Draw a caption (white with a dark outline) at a random place, as meme/credit overlays do."""
    _check(img)
    h, w = img.shape[:2]
    words = ["SALE", "@user", "breaking news", "(c) 2024", "LOL", "watch till the end", "photo: staff"]
    pick = int(rng.integers(0, len(words)))
    s = text if text is not None else words[pick]
    scale = max(0.4, min(h, w) / 400.0) * float(rng.uniform(0.8, 1.6))
    thick = max(1, int(round(scale * 2)))
    (tw, th), _ = cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = int(rng.integers(0, max(1, w - tw)))
    y = int(rng.integers(min(th + 2, h - 1), max(th + 3, h - 2)))
    out = img.copy()
    cv2.putText(out, s, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(out, s, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def _screenshot_plan(shape: tuple[int, ...], rng: np.random.Generator) -> dict[str, int | float]:
    h, w = shape[:2]
    f = float(rng.uniform(0.6, 0.9))
    nw, nh = _scaled_size(shape, f)
    top = max(12, int(round(0.08 * nh)))
    side = max(8, int(round(0.15 * nw)))
    cw = nw + side + int(rng.integers(8, max(9, nw // 6)))
    ch = nh + top + int(rng.integers(8, max(9, nh // 6)))
    x0 = side + int(rng.integers(0, cw - nw - side + 1))
    y0 = top + int(rng.integers(0, ch - nh - top + 1))
    shade = int(rng.integers(225, 250))
    return {
        "f": f,
        "nw": nw,
        "nh": nh,
        "cw": cw,
        "ch": ch,
        "x0": x0,
        "y0": y0,
        "top": top,
        "side": side,
        "shade": shade,
    }


def screenshot(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rescale (0.6-0.9x) and embed in a larger UI-like canvas: title bar, side panel, light background."""
    return _screenshot(img, rng, None).image


def _screenshot(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None) -> PerturbResult:
    _check(img)
    p = _screenshot_plan(img.shape, rng)
    nw, nh, cw, ch, x0, y0 = (int(p[k]) for k in ("nw", "nh", "cw", "ch", "x0", "y0"))
    canvas = np.full((ch, cw, 3), int(p["shade"]), np.uint8)
    canvas[: int(p["top"])] = (48, 52, 60)
    canvas[int(p["top"]) :, : int(p["side"])] = (235, 237, 240)
    for i in range(3):  # fake buttons / menu lines
        cy = int(p["top"]) + 10 + 14 * i
        if cy + 4 < ch:
            canvas[cy : cy + 4, 4 : max(5, int(p["side"]) - 4)] = (170, 175, 185)
    canvas[y0 : y0 + nh, x0 : x0 + nw] = _resize_arr(img, (nw, nh), is_mask=False)
    out_mask = None
    if mask is not None:
        m = _mask_u8(mask)
        mc = np.zeros((ch, cw), m.dtype)
        mc[y0 : y0 + nh, x0 : x0 + nw] = _resize_arr(m, (nw, nh), is_mask=True)
        out_mask = _mask_back(mc, mask)
    return PerturbResult(canvas, out_mask, encode(canvas, "PNG"))


def _social_plan(shape: tuple[int, ...], rng: np.random.Generator) -> tuple[float, int]:
    h, w = shape[:2]
    f = min(1.0, 1080.0 / max(h, w))
    q = int(rng.integers(75, 86))
    return f, q


def social(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Social-network upload: downscale to at most 1080 px on the long side, JPEG q 75-85 4:2:0, no metadata."""
    return _social(img, rng, None).image


def _social(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None) -> PerturbResult:
    f, q = _social_plan(img.shape, rng)
    size = _scaled_size(img.shape, f)
    small = _resize_arr(img, size, is_mask=False)
    data = encode(small, "JPEG", q, 2)
    m = None if mask is None else _mask_back(_resize_arr(_mask_u8(mask), size, is_mask=True), mask)
    return PerturbResult(decode(data), m, data)


# --------------------------------------------------------------------------------------------- registry


def _photometric(f: Callable[[np.ndarray, np.random.Generator], np.ndarray]) -> _OpFn:
    def op(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None) -> PerturbResult:
        return PerturbResult(f(img, rng), None if mask is None else mask.copy())

    return op


def _encoder(fmt: str, q: int) -> _OpFn:
    def op(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None) -> PerturbResult:
        data = encode(img, fmt, q)
        return PerturbResult(decode(data), None if mask is None else mask.copy(), data)

    return op


def _resize_op(f: float) -> _OpFn:
    def op(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None) -> PerturbResult:
        size = _scaled_size(img.shape, f)
        m = None if mask is None else _mask_back(_resize_arr(_mask_u8(mask), size, True), mask)
        return PerturbResult(_resize_arr(img, size, False), m)

    return op


def _crop_op(keep: float) -> _OpFn:
    def op(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None) -> PerturbResult:
        y0, x0, ch, cw = _crop_box(img.shape, keep, rng)
        m = None if mask is None else mask[y0 : y0 + ch, x0 : x0 + cw].copy()
        return PerturbResult(img[y0 : y0 + ch, x0 : x0 + cw].copy(), m)

    return op


def _rotate_op(deg: float) -> _OpFn:
    def op(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None) -> PerturbResult:
        m = None
        if mask is not None:
            h, w = mask.shape[:2]
            mm = cv2.warpAffine(_mask_u8(mask), _rot_matrix(mask.shape, deg), (w, h), flags=cv2.INTER_NEAREST)
            m = _mask_back(mm, mask)
        return PerturbResult(rotate(img, deg), m)

    return op


def _flip_op(axis: int) -> _OpFn:
    def op(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None) -> PerturbResult:
        m = None if mask is None else np.ascontiguousarray(np.flip(mask, axis=axis))
        return PerturbResult(np.ascontiguousarray(np.flip(img, axis=axis)), m)

    return op


def _border_op(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None) -> PerturbResult:
    h, w = img.shape[:2]
    width = max(2, int(round(0.04 * max(h, w))))
    color = tuple(int(c) for c in rng.choice([0, 255], size=3))
    m = None
    if mask is not None:
        mm = cv2.copyMakeBorder(_mask_u8(mask), width, width, width, width, cv2.BORDER_CONSTANT, value=0)
        m = _mask_back(mm, mask)
    return PerturbResult(border(img, width, color), m)  # type: ignore[arg-type]


PERTURBATIONS: dict[str, Perturbation] = {}


def _add(name: str, fn: _OpFn, geometric: bool, family: str, strength: float, description: str) -> None:
    PERTURBATIONS[name] = Perturbation(name, fn, geometric, family, strength, description)


for _q in (95, 85, 75, 60, 50):
    _add(f"jpeg{_q}", _encoder("JPEG", _q), False, "jpeg", _q, f"JPEG quality {_q}, 4:2:0")
_add("webp80", _encoder("WEBP", 80), False, "webp", 80, "lossy WEBP quality 80")
for _f in (0.5, 0.75, 1.5):
    _add(f"resize{_f}", _resize_op(_f), True, "resize", _f, f"rescale by {_f}")
for _s in (1, 2):
    _add(
        f"blur{_s}",
        _photometric(lambda im, r, s=_s: blur(im, s)),
        False,
        "blur",
        _s,
        f"Gaussian blur sigma {_s}",
    )
for _n in (5, 10):
    _add(
        f"noise{_n}",
        _photometric(lambda im, r, n=_n: noise(im, n, r)),
        False,
        "noise",
        _n,
        f"Gaussian noise sd {_n}",
    )
_add(
    "social", _social, True, "social", 1, "downscale to <=1080 px long side, JPEG q 75-85, metadata stripped"
)
_add("crop50", _crop_op(0.5), True, "crop", 0.5, "random window keeping 50% of the area")
_add("crop25", _crop_op(0.25), True, "crop", 0.25, "random window keeping 25% of the area")
_add("rotate5", _rotate_op(5.0), True, "rotate", 5, "rotate 5 degrees, same canvas")
_add("rotate-5", _rotate_op(-5.0), True, "rotate", -5, "rotate -5 degrees, same canvas")
_add("hflip", _flip_op(1), True, "flip", 1, "mirror left-right")
_add("vflip", _flip_op(0), True, "flip", 0, "mirror top-bottom")
_add(
    "brightness",
    _photometric(lambda im, r: brightness(im, float(r.choice([-1, 1])) * float(r.uniform(20, 40)))),
    False,
    "photometric",
    1,
    "add +-20..40 levels",
)
_add(
    "contrast",
    _photometric(lambda im, r: contrast(im, float(r.choice([0.7, 1.3])) * float(r.uniform(0.95, 1.05)))),
    False,
    "photometric",
    2,
    "contrast x0.7 or x1.3 (+-5%)",
)
_add(
    "gamma",
    _photometric(lambda im, r: gamma(im, float(r.choice([0.7, 1.4])))),
    False,
    "photometric",
    3,
    "gamma 0.7 or 1.4",
)
_add(
    "colorjitter",
    _photometric(
        lambda im, r: colorjitter(
            im, float(r.uniform(-15, 15)), float(r.uniform(0.7, 1.3)), float(r.uniform(0.85, 1.15))
        )
    ),
    False,
    "photometric",
    4,
    "hue +-15 deg, saturation x0.7-1.3, value x0.85-1.15",
)
_add(
    "grayscale",
    _photometric(lambda im, r: grayscale(im)),
    False,
    "photometric",
    5,
    "BT.601 grey in 3 channels",
)
_add(
    "overlay_text",
    _photometric(lambda im, r: overlay_text(im, r)),
    False,
    "overlay",
    1,
    "caption drawn on top",
)
_add("border", _border_op, True, "border", 1, "black or white frame, 4% of the long side")
_add("screenshot", _screenshot, True, "screenshot", 1, "rescale 0.6-0.9 and embed in a UI-like canvas, PNG")

_COMBO_POOL = tuple(PERTURBATIONS)


def _combo(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None) -> PerturbResult:
    k = int(rng.integers(2, 4))
    names = [str(n) for n in rng.choice(np.array(_COMBO_POOL), size=k, replace=False)]
    res = PerturbResult(img, mask)
    for n in names:
        res = PERTURBATIONS[n].fn(res.image, rng, res.mask)
    res.data = res.data if names[-1] in _ENCODERS else None
    return res


_add("combo", _combo, True, "combo", 1, "2-3 random perturbations of this suite in a row")

_ENCODERS = frozenset({"jpeg95", "jpeg85", "jpeg75", "jpeg60", "jpeg50", "webp80", "social", "screenshot"})

#: names of perturbations that move pixels (a mask must be transformed with them)
GEOMETRIC: frozenset[str] = frozenset(n for n, p in PERTURBATIONS.items() if p.geometric)


def get(name: str) -> Perturbation:
    try:
        return PERTURBATIONS[name]
    except KeyError:
        raise KeyError(f"unknown perturbation {name!r}; known: {', '.join(PERTURBATIONS)}") from None


def apply_with_mask(
    name: str, img: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply perturbation ``name`` to an image and its mask together (the mask follows the geometry)."""
    r = get(name).run(img, rng, mask)
    return r.image, r.mask


def apply_to_mask(name: str, mask: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Transform a mask (H x W, bool or uint8) as perturbation ``name`` moves the pixels of an image of its size.

    For perturbations with random geometry (``crop*``, ``screenshot``, ``border``, ``combo``) pass a generator
    seeded exactly like the one used for the image; photometric perturbations return a copy of the mask.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    p = get(name)
    rng = rng if rng is not None else np.random.default_rng(0)
    dummy = np.zeros((*mask.shape, 3), np.uint8)
    out = p.run(dummy, rng, mask).mask
    assert out is not None
    return out


def apply_encoded(name: str, img: np.ndarray, rng: np.random.Generator) -> bytes:
    """Apply ``name`` and return the resulting *file*: the lossy encoder's own bytes for JPEG/WEBP/social
    perturbations (so JPEG-domain detectors see a real JPEG), otherwise a lossless PNG of the result."""
    r = get(name).run(img, rng, None)
    return r.data if r.data is not None else encode(r.image, "PNG")
