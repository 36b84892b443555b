"""Third-party invisible watermarks: the ``invisible-watermark`` package (dwtDct, dwtDctSvd, rivaGan) and
``blind-watermark``.

We call those packages (they are optional at runtime); this module only adapts colour order, payload formats and
turns decoded bits into a match against *known payloads* with a binomial false-match probability.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from pixelsleuth.errors import WatermarkError

IMWM_METHODS = ("dwtDct", "dwtDctSvd", "rivaGan")
ALL_METHODS = (*IMWM_METHODS, "blind_watermark")


@dataclass(frozen=True)
class KnownPayload:
    name: str  # who uses it
    method: str  # one of ALL_METHODS
    bits: tuple[int, ...]
    ai_generator: bool = False  # a generator's published mark: evidence of AI generation

    @property
    def n_bits(self) -> int:
        return len(self.bits)


def _int_bits(value: int, n: int) -> tuple[int, ...]:
    return tuple((value >> (n - 1 - i)) & 1 for i in range(n))


def _bytes_bits(data: bytes) -> tuple[int, ...]:
    return tuple(int(b) for byte in data for b in f"{byte:08b}")


# Published marks (facts, from the generators' public release notes and reference scripts):
KNOWN_PAYLOADS: tuple[KnownPayload, ...] = (
    KnownPayload(
        "Stable Diffusion XL (reference sampling scripts)",
        "dwtDct",
        _int_bits(0b101100111110110010010000011110111011000110011110, 48),
        ai_generator=True,
    ),
    KnownPayload("Stable Diffusion 2.x (reference scripts, 'SDV2')", "dwtDct", _bytes_bits(b"SDV2"), True),
    KnownPayload(
        "Stable Diffusion 1.x (reference scripts, 'StableDiffusionV1')",
        "dwtDct",
        _bytes_bits(b"StableDiffusionV1"),
        True,
    ),
)


def rivagan_status() -> str | None:
    """None when rivaGan can run, else the reason it cannot."""
    try:
        import imwatermark
    except Exception as e:  # noqa: BLE001
        return f"the invisible-watermark package is not importable ({type(e).__name__})"
    d = os.path.dirname(os.path.abspath(imwatermark.__file__))
    missing = [
        n for n in ("rivagan_encoder.onnx", "rivagan_decoder.onnx") if not os.path.exists(os.path.join(d, n))
    ]
    if missing:
        return f"the rivaGan ONNX models are not shipped in this invisible-watermark install (missing {', '.join(missing)})"
    try:
        import onnxruntime  # noqa: F401
    except Exception:  # noqa: BLE001
        return "onnxruntime is not installed"
    return None


def method_status(method: str) -> str | None:
    """None when ``method`` is usable here, else why not."""
    if method not in ALL_METHODS:
        raise WatermarkError(f"unknown third-party method {method!r}; choose one of {', '.join(ALL_METHODS)}")
    if method == "blind_watermark":
        try:
            import blind_watermark  # noqa: F401
        except Exception as e:  # noqa: BLE001
            return f"the blind-watermark package is not importable ({type(e).__name__})"
        return None
    if method == "rivaGan":
        return rivagan_status()
    try:
        import imwatermark  # noqa: F401
    except Exception as e:  # noqa: BLE001
        return f"the invisible-watermark package is not importable ({type(e).__name__})"
    return None


def _bgr(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise WatermarkError(f"expected an H x W x 3 RGB image, got shape {a.shape}")
    return np.ascontiguousarray(a[..., ::-1]).astype(np.uint8)


_riva_loaded = False


def _load_riva() -> None:
    global _riva_loaded
    if not _riva_loaded:
        reason = rivagan_status()
        if reason:
            raise WatermarkError(f"rivaGan is unavailable: {reason}")
        from imwatermark import WatermarkEncoder

        WatermarkEncoder.loadModel()
        _riva_loaded = True


def _check_size(rgb: np.ndarray, method: str) -> None:
    h, w = rgb.shape[:2]
    if h * w < 256 * 256:
        raise WatermarkError(f"{method} needs at least 256x256 pixels of image (got {w}x{h})")


def embed(rgb: np.ndarray, method: str, bits: np.ndarray | list[int], *, password: int = 1) -> np.ndarray:
    """Embed ``bits`` with a third-party method; returns uint8 RGB. rivaGan takes exactly 32 bits."""
    reason = method_status(method)
    if reason:
        raise WatermarkError(f"{method} is unavailable: {reason}")
    b = [int(x) for x in np.asarray(bits).ravel()]
    _check_size(np.asarray(rgb), method)
    if method == "blind_watermark":
        from blind_watermark import WaterMark, bw_notes

        bw_notes.close()
        with contextlib.redirect_stdout(io.StringIO()):
            wm = WaterMark(password_img=password, password_wm=password, processes=1)
            wm.read_img(img=_bgr(rgb))
            wm.read_wm([bool(x) for x in b], mode="bit")
            out = wm.embed()
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)[..., ::-1].copy()
    if method == "rivaGan":
        if len(b) != 32:
            raise WatermarkError("rivaGan carries exactly 32 bits")
        _load_riva()
    from imwatermark import WatermarkEncoder

    enc = WatermarkEncoder()
    enc.set_watermark("bits", b)
    out = enc.encode(_bgr(rgb), method)
    return np.asarray(out)[..., ::-1].astype(np.uint8).copy()


def decode(rgb: np.ndarray, method: str, n_bits: int, *, password: int = 1) -> np.ndarray:
    """Decode ``n_bits`` with a third-party method (it has no notion of 'absent': bits always come out)."""
    reason = method_status(method)
    if reason:
        raise WatermarkError(f"{method} is unavailable: {reason}")
    _check_size(np.asarray(rgb), method)
    if method == "blind_watermark":
        from blind_watermark import WaterMark, bw_notes

        bw_notes.close()
        with contextlib.redirect_stdout(io.StringIO()):
            wm = WaterMark(password_img=password, password_wm=password, processes=1)
            got = wm.extract(embed_img=_bgr(rgb).astype(np.float32), wm_shape=n_bits, mode="bit")
        return (np.asarray(got, dtype=np.float64).ravel() > 0.5).astype(np.uint8)
    if method == "rivaGan":
        if n_bits != 32:
            raise WatermarkError("rivaGan carries exactly 32 bits")
        _load_riva()
    from imwatermark import WatermarkDecoder

    dec = WatermarkDecoder("bits", n_bits)
    got = dec.decode(_bgr(rgb), method)
    return np.asarray([int(bool(x)) for x in got], dtype=np.uint8)


def binom_tail(n: int, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2): the chance that random bits agree with a payload this well."""
    return float(sum(math.comb(n, i) for i in range(k, n + 1)) / 2.0**n)


@dataclass
class ThirdPartyMatch:
    payload: KnownPayload
    bit_accuracy: float
    p_value: float  # chance of agreeing this well by luck (corrected for the number of payloads tried)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.payload.name,
            "method": self.payload.method,
            "n_bits": self.payload.n_bits,
            "bit_accuracy": round(self.bit_accuracy, 4),
            "p_value": self.p_value,
            "ai_generator": self.payload.ai_generator,
        }


def scan(
    rgb: np.ndarray,
    known: tuple[KnownPayload, ...] | list[KnownPayload] = KNOWN_PAYLOADS,
    methods: tuple[str, ...] = ("dwtDct", "dwtDctSvd"),
    p_threshold: float = 1e-6,
) -> tuple[list[ThirdPartyMatch], dict[str, str]]:
    """Decode each known payload's method and length and report those that match. Returns (matches, skipped)."""
    matches: list[ThirdPartyMatch] = []
    skipped: dict[str, str] = {}
    todo = [k for k in known if k.method in methods]
    n_try = max(1, len(todo))
    cache: dict[tuple[str, int], np.ndarray] = {}
    for kp in todo:
        reason = method_status(kp.method)
        if reason:
            skipped[kp.method] = reason
            continue
        ck = (kp.method, kp.n_bits)
        if ck not in cache:
            try:
                cache[ck] = decode(rgb, kp.method, kp.n_bits)
            except WatermarkError as e:
                skipped[kp.method] = str(e)
                continue
        got = cache[ck]
        agree = int(np.sum(got == np.asarray(kp.bits, dtype=np.uint8)))
        p = min(1.0, binom_tail(kp.n_bits, agree) * n_try)
        if p <= p_threshold:
            matches.append(ThirdPartyMatch(kp, agree / kp.n_bits, p))
    return matches, skipped
