"""Property-based intake robustness: hostile bytes give an ImageData or an IntakeError, nothing else, quickly."""

from __future__ import annotations

import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _imagegen import all_format_samples, giant_bmp, giant_gif, giant_jpeg, giant_png, giant_webp
from pixelsleuth.errors import ImageTooLargeError, IntakeError
from pixelsleuth.io import ImageData, IntakeLimits, load_image

SAMPLES = all_format_samples(seed=7)
NAMES = sorted(SAMPLES)
TIME_BOUND_S = 5.0
LIMITS = IntakeLimits(max_pixels=20_000_000)
MAGICS = [
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"\x00\x00\x00\x18ftypheic",
    b"\x00\x00\x00\x1cftypavif",
    b"P6\n",
    b"",
]

FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def check(data: bytes) -> ImageData | None:
    t0 = time.perf_counter()
    try:
        out = load_image(data, LIMITS)
    except IntakeError:
        out = None
    dt = time.perf_counter() - t0
    assert dt < TIME_BOUND_S, f"intake took {dt:.1f}s"
    if out is not None:
        assert isinstance(out, ImageData)
        assert out.rgb.dtype == np.uint8 and out.rgb.ndim == 3 and out.rgb.shape[2] == 3
        assert out.rgb.shape[0] * out.rgb.shape[1] <= LIMITS.max_pixels
        if out.alpha is not None:
            assert out.alpha.shape == out.rgb.shape[:2]
    return out


@FUZZ
@given(st.sampled_from(MAGICS), st.binary(min_size=0, max_size=1500))
def test_random_bytes(magic: bytes, body: bytes) -> None:
    check(magic + body)


@FUZZ
@given(st.sampled_from(NAMES), st.floats(min_value=0.0, max_value=1.0))
def test_truncation(name: str, frac: float) -> None:
    b = SAMPLES[name]
    check(b[: int(len(b) * frac)])


@FUZZ
@given(
    st.sampled_from(NAMES),
    st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(0, 7)), min_size=1, max_size=12),
)
def test_bit_flips(name: str, flips: list[tuple[float, int]]) -> None:
    b = bytearray(SAMPLES[name])
    for pos, bit in flips:
        b[int(pos * len(b))] ^= 1 << bit
    check(bytes(b))


@FUZZ
@given(
    st.sampled_from(NAMES),
    st.integers(0, 4096),
    st.binary(min_size=1, max_size=64),
)
def test_overwritten_spans(name: str, at: int, junk: bytes) -> None:
    b = bytearray(SAMPLES[name])
    at = at % len(b)
    b[at : at + len(junk)] = junk
    check(bytes(b))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.sampled_from(["png", "jpeg", "bmp", "gif", "webp"]),
    st.integers(5000, 65_000),
    st.integers(5000, 65_000),
)
def test_giant_declared_dimensions(kind: str, w: int, h: int) -> None:
    maker = {"png": giant_png, "jpeg": giant_jpeg, "bmp": giant_bmp, "gif": giant_gif, "webp": giant_webp}[
        kind
    ]
    w2, h2 = (min(w, 16_384), min(h, 16_384)) if kind == "webp" else (w, h)
    data = maker(w2, h2)
    t0 = time.perf_counter()
    try:
        load_image(data, LIMITS)
        raise AssertionError("a file declaring a huge size was accepted")
    except ImageTooLargeError:
        pass
    except IntakeError:
        assert kind == "webp"  # a VP8X-only stub may be refused as corrupt before its size is read
    assert time.perf_counter() - t0 < TIME_BOUND_S


def test_valid_samples_still_load() -> None:
    for name, b in SAMPLES.items():
        assert check(b) is not None, name
