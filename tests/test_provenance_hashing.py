from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelsleuth.provenance import hashing as H
from test_provenance_helpers import jpeg, textured

PDQ_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "copy" / "threatexchange_pdq"
if not PDQ_DIR.exists():
    PDQ_DIR = Path("/work/shared/data/copy/threatexchange_pdq")


def _reference_hashes() -> dict[str, tuple[str, int]]:
    readme = PDQ_DIR / "pdq_python_README.md"
    out = {}
    for line in readme.read_text().splitlines():
        m = re.match(r"([0-9a-f]{64}),(\d+),.*/(\S+)$", line.strip())
        if m:
            out[m.group(3)] = (m.group(1), int(m.group(2)))
    return out


@pytest.mark.skipif(
    not (PDQ_DIR / "pdq_python_README.md").exists(), reason="ThreatExchange PDQ data not present"
)
def test_pdq_matches_meta_reference_hashes() -> None:
    ref = _reference_hashes()
    assert len(ref) == 12
    exact = 0
    for name, (hexhash, quality) in ref.items():
        im = Image.open(PDQ_DIR / "pdq" / "data" / "bridge-mods" / name)
        needs_resize = max(im.size) > H.PDQ_MAX_SIDE
        rgb = np.asarray(im.convert("RGB"))
        h = H.pdq(rgb)
        assert h.quality == quality, name
        d = H.hamming(h.bits, bytes.fromhex(hexhash))
        if not needs_resize:
            # the hash of the decoded pixels themselves: bit-exact (4 of the 12 files)
            assert d == 0, (name, d)
        else:
            # files above 512 px are first reduced (Pillow bicubic thumbnail, as the reference tool does); in 3 of
            # the 8 the two DCT coefficients next to the median swap ranks between our reduced pixels and the ones
            # behind the published hashes. It is not the JPEG decoder: decoding with each of the 24 libjpeg builds
            # that jpeglib ships gives the same hashes; a float resize without intermediate rounding fixes one of
            # the three. Two bits (one swapped pair) is far inside any match threshold (PDQ's is 31).
            assert d <= 2, (name, d)
        exact += d == 0
    assert exact >= 9


@pytest.mark.skipif(
    not (PDQ_DIR / "pdq" / "data" / "reg-test-input" / "dih").exists(), reason="data not present"
)
def test_pdq_dihedral_finds_rotated_files() -> None:
    dih = PDQ_DIR / "pdq" / "data" / "reg-test-input" / "dih"
    orig = np.asarray(Image.open(dih / "bridge-1-original.jpg").convert("RGB"))
    for f in sorted(dih.glob("*.jpg")):
        q = H.pdq(np.asarray(Image.open(f).convert("RGB")))
        best = min(H.hamming(q.bits, v.bits) for v in H.pdq_dihedral(orig))
        assert best <= 31, (f.name, best)


def test_pdq_dihedral_variants_match_transformed_images() -> None:
    img = textured(1)
    variants = H.pdq_dihedral(img)
    for name, v in zip(H.DIHEDRAL_NAMES, variants, strict=True):
        direct = H.pdq(H.apply_dihedral(img, name))
        assert H.hamming(v.bits, direct.bits) <= 32, name
    # and the variants of one image differ from each other
    assert H.hamming(variants[0].bits, variants[2].bits) > 64


def test_pdq_robust_to_jpeg_and_discriminative() -> None:
    a, b = textured(2), textured(3)
    ha, hb = H.pdq(a), H.pdq(b)
    assert H.hamming(ha.bits, H.pdq(jpeg(a, 40)).bits) <= 20
    assert H.hamming(ha.bits, hb.bits) > 80
    assert bin(int(ha.hex, 16)).count("1") == 128  # median split
    assert 0 <= ha.quality <= 100


def test_pdq_quality_low_for_flat_image() -> None:
    flat = np.full((200, 300, 3), 120, np.uint8)
    assert H.pdq(flat).quality < 50


def test_dct_phash() -> None:
    a, b = textured(4), textured(5)
    pa = H.dct_phash(a)
    assert len(pa) == 8
    assert H.hamming(pa, H.dct_phash(jpeg(a, 50))) <= 6
    assert H.hamming(pa, H.dct_phash(b)) > 16


def test_hex_round_trip_and_errors() -> None:
    h = H.pdq(textured(6))
    assert H.hex_to_bits(h.hex) == h.bits
    with pytest.raises(ValueError):
        H.hex_to_bits("zz" * 32)
    with pytest.raises(ValueError):
        H.hex_to_bits("ab")
