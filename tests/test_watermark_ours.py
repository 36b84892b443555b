"""Our keyed watermark: imperceptibility, payload, zero-bit statistics, robustness, localization."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from _wm_images import photo  # tests/ is on sys.path (conftest.py)
from pixelsleuth.errors import WatermarkError
from pixelsleuth.watermark import ours

KEY = "unit-test-key"
PAYLOAD = 0xC0FFEE42


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2))


def _jpeg(a: np.ndarray, q: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    return np.array(Image.open(buf).convert("RGB"))


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    return photo(384, 512, seed=1)


@pytest.fixture(scope="module")
def marked(img: np.ndarray) -> np.ndarray:
    return ours.embed(img, KEY, PAYLOAD)


def test_crc_and_conv_code_roundtrip() -> None:
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, 48).astype(np.uint8)
    coded = ours.conv_encode(bits)
    assert len(coded) == ours.N_CODED
    soft = 1.0 - 2.0 * coded.astype(float)
    # flip a few coded symbols: the code must correct them
    soft[[3, 40, 77, 120]] *= -1
    assert np.array_equal(ours.viterbi_decode(soft, 48), bits)
    b = ours.payload_to_bits(PAYLOAD)
    assert ours.bits_to_payload(b) == PAYLOAD
    assert not np.array_equal(ours.crc16(b), ours.crc16(b ^ np.eye(32, dtype=np.uint8)[5]))


def test_bad_inputs() -> None:
    with pytest.raises(WatermarkError):
        ours.embed(np.zeros((32, 32, 3), np.uint8), KEY, 1)
    with pytest.raises(WatermarkError):
        ours.embed(photo(128, 128), KEY, 2**32)
    with pytest.raises(WatermarkError):
        ours.embed(photo(128, 128), "", 1)
    with pytest.raises(WatermarkError):
        ours.detect(np.zeros((10, 10), np.uint8), KEY)


def test_imperceptible_and_strength(img: np.ndarray, marked: np.ndarray) -> None:
    assert marked.shape == img.shape and marked.dtype == np.uint8
    assert _psnr(img, marked) >= 40.0
    weaker = ours.embed(img, KEY, PAYLOAD, strength=0.5)
    assert _psnr(img, weaker) > _psnr(img, marked) + 4
    # luma only: chroma differences are rounding-level
    d = marked.astype(float) - img
    assert np.abs(d[..., 0] - d[..., 2]).mean() < 0.6


def test_detects_and_decodes(marked: np.ndarray) -> None:
    r = ours.detect(marked, KEY)
    assert r.detected and r.payload_valid and r.payload == PAYLOAD
    assert r.p_value < 1e-12
    assert r.map is not None and r.map.shape == marked.shape[:2] and r.map.dtype == np.float32


def test_unmarked_and_wrong_key_are_not_detected(img: np.ndarray, marked: np.ndarray) -> None:
    for im, key in ((img, KEY), (marked, "another key")):
        r = ours.detect(im, key)
        assert not r.detected
        assert r.payload is None
        assert r.p_value > 1e-3
        assert r.map is None


def test_tail_bound_dominates_exact_rademacher_tails() -> None:
    # equal weights 1/sqrt(k): S = (2B - k)/sqrt(k) with B ~ Binomial(k, 1/2), the exact tail is a binomial sum
    from math import comb, erfc, sqrt

    for k in (1, 2, 3, 5, 8, 13, 40, 101, 512):
        tail = np.cumsum([comb(k, b) / 2.0**k for b in range(k, -1, -1)])[::-1]  # P(B >= b)
        for b in range(k + 1):
            z = (2 * b - k) / sqrt(k)
            assert tail[b] <= ours.tail_bound(z - 1e-9) * (1 + 1e-9) + 1e-300, (k, b)
    # two unequal weights (0.8, 0.6): P(S >= 0.2) = 1/2, P(S >= 1.4) = 1/4
    assert ours.tail_bound(1.4 - 1e-9) >= 0.25 and ours.tail_bound(0.2) >= 0.5
    # it is the smaller of Hoeffding and 4.463 x the Gaussian tail, so never looser than Hoeffding
    for z in (0.5, 1.0, 2.0, 5.0, 7.5, 9.0):
        # 1e-12 relative slack: math.exp and np.exp may differ in the last bit
        assert ours.tail_bound(z) <= np.exp(-z * z / 2) * (1 + 1e-12) + 1e-300
        assert ours.tail_bound(z) >= 0.5 * erfc(z / sqrt(2))
    assert ours.tail_bound(7.5) < 0.3 * np.exp(-(7.5**2) / 2)


def test_null_z_scores_stay_below_threshold() -> None:
    # the Hoeffding bound says P(z >= t) <= exp(-t^2/2) per test; over random keys on unmarked images the
    # best z (after the whole search) must stay far below the z at which p reaches 1e-6
    zs = [ours.detect(photo(256, 320, seed=s), f"k{s}", want_map=False).z for s in range(4)]
    n = ours.detect(photo(256, 320, seed=9), "x", want_map=False).n_tests
    z_thr = np.sqrt(2 * np.log(n / 1e-6))
    assert max(zs) < z_thr - 1.0


@pytest.mark.parametrize(
    "name",
    ["jpeg50", "resize0.5", "crop50", "rotate5", "hflip", "gamma", "blur", "noise", "resize1.5"],
)
def test_robustness(marked: np.ndarray, name: str) -> None:
    h, w = marked.shape[:2]
    if name == "jpeg50":
        x = _jpeg(marked, 50)
    elif name == "resize0.5":
        x = cv2.resize(marked, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    elif name == "resize1.5":
        x = cv2.resize(marked, (w * 3 // 2, h * 3 // 2), interpolation=cv2.INTER_CUBIC)
    elif name == "crop50":
        x = marked[37 : 37 + int(h * 0.707), 91 : 91 + int(w * 0.707)]
    elif name == "rotate5":
        x = cv2.warpAffine(marked, cv2.getRotationMatrix2D((w / 2, h / 2), 5, 1.0), (w, h))
    elif name == "hflip":
        x = marked[:, ::-1].copy()
    elif name == "gamma":
        x = (255 * (marked / 255.0) ** 0.7).astype(np.uint8)
    elif name == "blur":
        x = cv2.GaussianBlur(marked, (0, 0), 1.0)
    else:
        x = np.clip(marked + np.random.default_rng(0).normal(0, 5, marked.shape), 0, 255).astype(np.uint8)
    r = ours.detect(x, KEY, want_map=False)
    assert r.detected, (name, r.z)
    assert r.payload == PAYLOAD, (name, r.z)


def test_localization_finds_replaced_region(img: np.ndarray, marked: np.ndarray) -> None:
    h, w = marked.shape[:2]
    donor = photo(h, w, seed=77)
    x = marked.copy()
    y0, x0, rh, rw = 100, 150, 160, 200  # ~16% of the area
    x[y0 : y0 + rh, x0 : x0 + rw] = donor[y0 : y0 + rh, x0 : x0 + rw]
    x = _jpeg(x, 90)
    r = ours.detect(x, KEY)
    assert r.detected and r.map is not None
    gt = np.zeros((h, w), bool)
    gt[y0 : y0 + rh, x0 : x0 + rw] = True
    pred = r.map > 0.5
    f1 = 2 * np.sum(pred & gt) / (pred.sum() + gt.sum())
    assert f1 > 0.6, f1
    assert r.map[gt].mean() > r.map[~gt].mean() + 0.4


def test_key_layout_is_deterministic_and_key_dependent() -> None:
    a, b = ours.mark_tile("k", 1), ours.mark_tile("k", 1)
    c = ours.mark_tile("k2", 1)
    assert np.array_equal(a, b)
    assert abs(float(np.corrcoef(a.ravel(), c.ravel())[0, 1])) < 0.1


def test_sweep_lattices_cover_rescales_and_rotations() -> None:
    p0 = 128.0
    lat = ours._sweep_lattices(p0, 480)
    periods = sorted({round(v1[0], 3) for v1, v2 in lat if v1[1] == 0.0})
    ratios = np.array(periods) / p0
    assert ratios.min() <= 0.51 and ratios.max() >= 1.9  # 0.5x .. 2x (capped at 0.75 x short side = 360 px)
    assert np.max(np.diff(np.log(ratios))) <= np.log(1.0121)  # any rescale is within 0.6% of a grid point
    angles = sorted(round(np.degrees(np.arctan2(v1[1], v1[0])), 3) for v1, v2 in lat if v1[1] != 0.0)
    assert angles[0] == -10.0 and angles[-1] == 10.0  # with 0 (the prior itself): every 0.5 deg
    assert np.max(np.diff(sorted([*angles, 0.0]))) <= 0.5 + 1e-9
    assert len(lat) <= ours.N_SWEEP  # the union bound counts every sweep lattice


def test_weak_mark_after_rescale_found_by_sweep() -> None:
    # a weak mark (strength 0.2) on a small image, rescaled 1.5x: the autocorrelation peaks are lost in the image
    # content, the keyed sweep still finds the lattice
    im = ours.embed(photo(321, 481, seed=2), KEY, PAYLOAD, strength=0.2)
    x = cv2.resize(im, (722, 482), interpolation=cv2.INTER_CUBIC)
    r = ours.detect(x, KEY, want_map=False)
    assert r.p_value <= 1e-6 and r.payload == PAYLOAD
    assert r.geometry["source"] == "sweep" and abs(r.geometry["scale"] - 1.5) < 0.01


def _ssim_rgb(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for c in range(3):
        x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)
        mx, my = (cv2.GaussianBlur(v, (11, 11), 1.5) for v in (x, y))
        sx = cv2.GaussianBlur(x * x, (11, 11), 1.5) - mx * mx
        sy = cv2.GaussianBlur(y * y, (11, 11), 1.5) - my * my
        sxy = cv2.GaussianBlur(x * y, (11, 11), 1.5) - mx * my
        vals.append(
            np.mean(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sx + sy + c2)))
        )
    return float(np.mean(vals))


def test_ssim_floor_on_smooth_images() -> None:
    yy, xx = np.mgrid[0:320, 0:448].astype(np.float32)
    smooth = np.clip(np.stack([90 + 0.1 * xx, 110 + 0.05 * yy, 130 + 0.02 * (xx + yy)], -1), 0, 255).astype(
        np.uint8
    )
    free = ours.embed(smooth, KEY, PAYLOAD, ssim_floor=None)
    capped = ours.embed(smooth, KEY, PAYLOAD)
    assert _ssim_rgb(smooth, free) < 0.95  # a mark of the default RMS is visible on a smooth gradient
    assert _ssim_rgb(smooth, capped) >= 0.975
    r = ours.detect(capped, KEY, want_map=False)
    assert r.p_value <= 1e-6 and r.payload == PAYLOAD  # smooth images need little mark to be found
    # busy textures are untouched by the floor
    rng = np.random.default_rng(4)
    im = cv2.GaussianBlur(rng.integers(0, 256, (320, 448, 3), dtype=np.uint8), (0, 0), 0.8)
    assert _ssim_rgb(im, ours.embed(im, KEY, PAYLOAD, ssim_floor=None)) > 0.99
    assert np.array_equal(ours.embed(im, KEY, PAYLOAD), ours.embed(im, KEY, PAYLOAD, ssim_floor=None))
    with pytest.raises(WatermarkError):
        ours.embed(im, KEY, PAYLOAD, ssim_floor=1.5)


def _coded_bit_errors(marked: np.ndarray) -> int:
    """Coded-bit sign errors the detector reads at the embedding lattice (no attack, no search)."""
    lay = ours._layout(KEY)
    bits = ours.payload_to_bits(PAYLOAD)
    coded = ours.conv_encode(np.concatenate([bits, ours.crc16(bits)]))
    x = ours._cell_response(ours._luma(marked))
    soft = np.zeros(ours.N_CODED)
    np.add.at(soft, lay.payload_bit, lay.payload_sign * x[lay.payload_idx])
    sent = 1.0 - 2.0 * (coded ^ lay.scramble)
    return int(np.sum(np.sign(soft) != sent))


def test_informed_embedding_rejects_host_interference() -> None:
    # a busy texture: the host's own projection flips coded bits of plain spread spectrum; informed embedding
    # (same energy, same PSNR) must flip far fewer
    im = photo(256, 384, seed=5)
    im = np.clip(im.astype(np.int16) + np.random.default_rng(5).integers(-40, 41, im.shape), 0, 255).astype(
        np.uint8
    )
    plain = ours.embed(im, KEY, PAYLOAD, informed=0.0, ssim_floor=None)
    inf = ours.embed(im, KEY, PAYLOAD, informed=ours.INFORMED, ssim_floor=None)
    assert abs(_psnr(im, plain) - _psnr(im, inf)) < 0.15
    e_plain, e_inf = _coded_bit_errors(plain), _coded_bit_errors(inf)
    assert e_plain >= 5  # the case is hard for plain spread spectrum
    assert e_inf <= e_plain // 4
    with pytest.raises(WatermarkError):
        ours.embed(im, KEY, PAYLOAD, informed=-1.0)


def test_combined_p_value_spends_the_budget_correctly() -> None:
    w = ours.CRC_WEIGHT
    assert ours._combined_p(1e-7, False) == pytest.approx(1e-7 / (1 - w))
    assert ours._combined_p(1e-3, True) == pytest.approx(1e-3 * 2.0**-16 / w)
    # a CRC match on its own (pilot p = 1) is never enough at the default threshold
    assert ours._combined_p(1.0, True) > ours.P_THRESHOLD
    # false-positive rate under the null (pilot p uniform, CRC match with probability 2^-16, independent):
    # the function must implement exactly the rule whose rate is bounded by alpha
    rng = np.random.default_rng(0)
    n, alpha = 2_000_000, 1e-4
    pp = rng.random(n)
    ok = rng.random(n) < 2.0**-16
    rule = (pp <= (1 - w) * alpha) | (ok & (pp <= w * alpha * 2.0**16))
    idx = np.concatenate([np.flatnonzero(rule), np.flatnonzero(ok), np.arange(2000)])
    got = np.array([ours._combined_p(float(pp[i]), bool(ok[i])) <= alpha for i in idx])
    assert np.array_equal(got, rule[idx])
    assert rule.mean() <= alpha * 1.1


def test_axis_aligned_fold_equals_the_general_fold() -> None:
    # the fast path for axis-aligned lattices must give the very same bins and sums as the per-pixel mapping
    rng = np.random.default_rng(1)
    r = rng.normal(size=(333, 517))
    h, w = r.shape
    xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    off = np.float32(65536.0)
    for p in (128.0, 64.0, 100.3, 151.7, 256.0, 24.5):
        f = np.float32(128.0 / p)
        ui = ((f * xs)[None, :] + (np.float32(0.0) * ys + off)[:, None]).astype(np.int32) & 127
        vi = ((np.float32(0.0) * xs)[None, :] + (f * ys + off)[:, None]).astype(np.int32) & 127
        want = np.bincount(((vi << 7) | ui).ravel(), weights=r.ravel(), minlength=128 * 128).reshape(128, 128)
        sums, gu, gv = ours._fold(r, (p, 0.0), (0.0, p))
        assert np.array_equal(sums, want) and np.array_equal(gu, ui) and np.array_equal(gv, vi)
