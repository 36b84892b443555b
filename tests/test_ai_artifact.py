"""ai_artifact: features, run-time contract, and that it is not a file-format or image-size classifier."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pixelsleuth.detectors.ai_artifact import AIArtifact, artifact_features, image_tiles, load_model
from pixelsleuth.detectors.base import Context
from pixelsleuth.io.image import ImageData
from pixelsleuth.models.ai_common import TILE, normalise_size, tile_grid

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")


def _img(rgb: np.ndarray, fmt: str = "PNG") -> ImageData:
    return ImageData(rgb=rgb, format=fmt, mode="RGB", bit_depth=8, sha256="", source="<bytes>", file_size=0)


def _camera_like(seed: int, h: int = 256, w: int = 256) -> np.ndarray:
    """Textured scene + sensor-like noise, then JPEG 92 (a camera pipeline caricature)."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (h // 4, w // 4, 3)).astype(np.float32), (0, 0), 1.5)
    base = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
    base += rng.normal(0, 4, base.shape)
    return _jpeg(np.clip(base, 0, 255).astype(np.uint8), 92)


def _upsampled(seed: int, h: int = 256, w: int = 256) -> np.ndarray:
    """Low-resolution content up-sampled 2x by nearest neighbour: strong periodic up-sampling traces."""
    rng = np.random.default_rng(seed)
    small = cv2.GaussianBlur(rng.uniform(0, 255, (h // 2, w // 2, 3)).astype(np.float32), (0, 0), 1.0)
    small = np.clip(small + rng.normal(0, 3, small.shape), 0, 255).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def _jpeg(rgb: np.ndarray, q: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _png(rgb: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_features_finite_and_deterministic() -> None:
    t = _camera_like(0)[:TILE, :TILE]
    f1, f2 = artifact_features(t), artifact_features(t.copy())
    assert f1.shape == (72,) and np.isfinite(f1).all()
    assert np.array_equal(f1, f2)
    flat = np.full((TILE, TILE, 3), 7, np.uint8)
    assert np.isfinite(artifact_features(flat)).all()


def _bilinear(seed: int, h: int = 256, w: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = cv2.GaussianBlur(rng.uniform(0, 255, (h // 2, w // 2, 3)).astype(np.float32), (0, 0), 1.0)
    small = np.clip(small + rng.normal(0, 3, small.shape), 0, 255).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def test_features_see_upsampling_traces() -> None:
    """Residual autocorrelation (features 0-11: lags 1..6, x and y) exposes 2x up-sampling."""
    cam = np.mean([artifact_features(_camera_like(s)[:TILE, :TILE]) for s in range(3)], axis=0)
    near = np.mean([artifact_features(_upsampled(s)[:TILE, :TILE]) for s in range(3)], axis=0)
    bil = np.mean([artifact_features(_bilinear(s)[:TILE, :TILE]) for s in range(3)], axis=0)
    assert (near[2:4] > cam[2:4] + 0.3).all(), (near[:4], cam[:4])  # lag 2 for nearest-neighbour
    assert (bil[0:2] > cam[0:2] + 0.5).all(), (bil[:4], cam[:4])  # lag 1 for bilinear
    assert near[24] < cam[24] - 1.0  # period-2 spectral line of the residual (nearest: a deep notch)


def test_model_matches_features() -> None:
    m = load_model()
    assert m.mean.shape == (72,)
    assert np.isfinite(m.logit(np.zeros((2, 72)) + m.mean)).all()


def test_tiling_and_size_normalisation() -> None:
    big = np.zeros((2000, 1500, 3), np.uint8)
    norm, s = normalise_size(big)
    assert min(norm.shape[:2]) == 512 and s == pytest.approx(512 / 1500)
    assert tile_grid(224, 224) == [(0, 0)]
    assert len(tile_grid(512, 700)) == 9
    tiles, corners, _, padded = image_tiles(np.zeros((100, 80, 3), np.uint8))
    assert padded and tiles[0].shape == (TILE, TILE, 3)


@pytest.mark.parametrize("shape", [(100, 80), (256, 256), (300, 517), (1200, 900)])
def test_detector_contract(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    rgb = cv2.resize(
        rng.integers(0, 255, (shape[0] // 8 + 1, shape[1] // 8 + 1, 3), dtype=np.uint8), shape[::-1]
    )
    ev = AIArtifact().run(_img(rgb), Context())
    assert ev.skipped is None, ev.skipped
    assert ev.map is not None and ev.map.shape == shape and ev.map.dtype == np.float32
    assert 0.0 <= ev.score <= 1.0
    assert isinstance(ev.extra["logit"], float)
    assert ev.findings


def test_format_swap_synthetic() -> None:
    """Saving a camera-like image as PNG, or a bilinearly up-sampled (generator-like) image as JPEG 90, must not
    flip the detector's decision, and the generator-like image must keep scoring above the camera-like one.
    PNG is lossless, so for the camera-like image the pixels (and answer) are identical."""
    det = AIArtifact()
    flips = 0
    n = 6
    for s in range(n):
        cam = _camera_like(10 + s)
        a = det.run(_img(cam, "JPEG"), Context()).score
        b = det.run(_img(_png(cam), "PNG"), Context()).score
        assert a == pytest.approx(b)
        gen = _bilinear(20 + s)
        c = det.run(_img(gen, "PNG"), Context()).score
        d = det.run(_img(_jpeg(gen, 90), "JPEG"), Context()).score
        flips += (c >= 0.5) != (d >= 0.5)
        assert d > b
    assert flips <= 1


def _shared(sub: str, n: int) -> list[Path]:
    d = DATA / sub
    if not d.exists():
        pytest.skip(f"{d} not available")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    return files[:: max(1, len(files) // n)][:n]


@pytest.mark.slow
def test_format_swap_on_shared_data() -> None:
    """Real photos saved as PNG vs generated images saved as JPEG 90: decisions must not flip (<= 15%)."""
    det = AIArtifact()
    flips = total = 0
    for f in _shared("aigen/ldif", 15) + _shared("aigen/dmin", 15):
        rgb = np.asarray(Image.open(f).convert("RGB"))
        a = det.run(_img(rgb), Context()).score >= 0.5
        b = det.run(_img(_jpeg(rgb, 90), "JPEG"), Context()).score >= 0.5
        flips += a != b
        total += 1
    for f in _shared("photos/camera", 20):
        rgb = np.asarray(Image.open(f).convert("RGB"))
        a = det.run(_img(rgb, "JPEG"), Context()).score >= 0.5
        b = det.run(_img(_png(rgb)), Context()).score >= 0.5
        flips += a != b
        total += 1
    assert flips / total <= 0.15, flips / total


def _rich_poor_by_patch(y: np.ndarray, r: np.ndarray, patch: int = 32) -> list[float]:
    """The texture-contrast statistics written as the plain per-patch loop they are defined by."""
    h, w = y.shape
    g = np.abs(np.diff(y, axis=0))[:, :-1] + np.abs(np.diff(y, axis=1))[:-1, :]
    stats = []
    for py in range(0, h - patch + 1, patch):
        for px in range(0, w - patch + 1, patch):
            gp = g[py : py + patch - 1, px : px + patch - 1]
            rp = r[py : py + patch, px : px + patch].astype(np.float64)
            v = float((rp * rp).mean()) + 1e-6
            ac = float((rp[:, :-1] * rp[:, 1:]).mean()) / v
            stats.append((float(gp.mean()), np.log(v), ac, float((np.abs(rp) < 0.5).mean())))
    a = np.asarray(sorted(stats, key=lambda s: s[0]))
    k = max(1, len(a) // 3)
    poor, rich = a[:k, 1:].mean(axis=0), a[-k:, 1:].mean(axis=0)
    return (rich - poor).tolist() + poor.tolist()


def test_vectorised_texture_contrast_equals_per_patch_definition() -> None:
    from pixelsleuth.detectors.ai_artifact import _LAP, _luma, _rich_poor

    for seed in range(3):
        tile = _camera_like(seed, TILE, TILE)
        y = _luma(tile)
        r = cv2.filter2D(y, -1, _LAP, borderType=cv2.BORDER_REFLECT)[2:-2, 2:-2]
        np.testing.assert_allclose(_rich_poor(y, r), _rich_poor_by_patch(y, r), rtol=1e-4, atol=1e-6)


def test_spectral_peaks_from_2d_spectrum_equal_1d_ffts() -> None:
    """The row/column peak test reads marginals of the 2-D power spectrum (Parseval); check against 1-D FFTs."""
    rng = np.random.default_rng(3)
    r = rng.normal(size=(60, 44))
    p2 = np.abs(np.fft.fft2(r)) ** 2
    np.testing.assert_allclose(p2.sum(axis=0) / 60**2, (np.abs(np.fft.fft(r, axis=1)) ** 2).mean(axis=0))
    np.testing.assert_allclose(p2.sum(axis=1) / 44**2, (np.abs(np.fft.fft(r, axis=0)) ** 2).mean(axis=1))
