"""ai_clip_probe: skipped with a clear finding when the CLIP model is missing; contract when it is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixelsleuth.detectors.ai_clip_probe import MODEL_NAME, AIClipProbe, five_crops, load_head
from pixelsleuth.detectors.base import Context
from pixelsleuth.io.image import ImageData
from pixelsleuth.models import registry


def _img(rgb: np.ndarray) -> ImageData:
    return ImageData(rgb=rgb, format="PNG", mode="RGB", bit_depth=8, sha256="", source="<bytes>", file_size=0)


def test_head_shape() -> None:
    head = load_head()
    assert head.mean.shape == (512,)
    assert head.weights[0].shape == (512, 1)


def test_five_crops() -> None:
    tiles, corners, scale, padded = five_crops(np.zeros((300, 400, 3), np.uint8))
    assert len(tiles) == 5 and all(t.shape == (224, 224, 3) for t in tiles) and not padded and scale == 1.0
    tiles, _, _, padded = five_crops(np.zeros((224, 224, 3), np.uint8))
    assert len(tiles) == 1 and not padded
    assert len(five_crops(np.zeros((300, 400, 3), np.uint8), 3)[0]) == 3
    assert len(five_crops(np.zeros((300, 400, 3), np.uint8), 1)[0]) == 1


def test_skipped_without_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELSLEUTH_HOME", str(tmp_path))
    registry._VERIFIED.clear()
    ev = AIClipProbe().run(_img(np.zeros((256, 256, 3), np.uint8)), Context())
    assert ev.skipped is not None and MODEL_NAME in ev.skipped
    assert "pixelsleuth models fetch" in ev.findings[0].message


@pytest.mark.skipif(not registry.model_available(MODEL_NAME), reason="CLIP model not in the cache")
def test_contract_with_model() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (300, 500, 3), dtype=np.uint8)
    ev = AIClipProbe().run(_img(rgb), Context(profile="thorough"))
    assert ev.skipped is None, ev.skipped
    assert ev.map.shape == (300, 500) and 0.0 <= ev.score <= 1.0
    assert len(ev.extra["crop_scores"]) == 5
    assert len(AIClipProbe().run(_img(rgb), Context()).extra["crop_scores"]) == 1  # default: the centre crop
    opts = {"ai_clip_probe": {"crops": 3}}
    assert len(AIClipProbe().run(_img(rgb), Context(options=opts)).extra["crop_scores"]) == 3


@pytest.mark.skipif(not registry.model_available(MODEL_NAME), reason="CLIP model not in the cache")
def test_embeddings_do_not_depend_on_batch_mates_or_cpu_kernels() -> None:
    from pixelsleuth.detectors.ai_clip_probe import _cpu_has_vnni, clip_embed, clip_session

    # without this option the int8 kernels saturate on CPUs lacking VNNI and the embeddings are corrupted
    if not _cpu_has_vnni():
        opts = clip_session().get_session_options()
        assert opts.get_session_config_entry("session.x64quantprecision") == "1"
    rng = np.random.default_rng(3)
    tiles = [rng.integers(0, 255, (224, 224, 3), dtype=np.uint8) for _ in range(3)]
    tiles[2] = (tiles[2] // 4).astype(np.uint8)  # a dark crop changes a shared quantization scale the most
    together = clip_embed(tiles)
    alone = clip_embed(tiles[:1])
    np.testing.assert_array_equal(together[0], alone[0])
