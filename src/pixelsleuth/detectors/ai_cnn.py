"""Learned low-level detector for AI-generated images: a MobileNetV2 trunk we fine-tuned on generator vs camera pixels.

The network (MobileNetV2 blocks 0-16, mean pooling and one linear logit, 1.3M parameters,
``pixelsleuth/models/trained/ai_cnn.onnx``) was initialised from ImageNet weights (torchvision, BSD-3-Clause, the
registry model ``mobilenet_v2_imagenet``, needed only to retrain it) and fine-tuned by benchmarks/ai_cnn_train.py
``--network mnv2``; it ships inside the package, so nothing is fetched at run time. It reads the same 224x224
native-resolution tiles as ``ai_artifact`` and returns one logit per tile; the image logit is their mean. In
leave-one-generator-out tests it generalises far better than our earlier from-scratch CNN to held-out generators
(docs/bench/ai_generated.md). The fusion (:mod:`pixelsleuth.fusion.ai_calibration`) combines it with
``ai_artifact``; the score reported here is the network alone, standardised by its logits on real training photos
and calibrated on out-of-fold logits (0.5 = threshold at equal priors).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from pixelsleuth.detectors.ai_artifact import image_tiles
from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData
from pixelsleuth.models.ai_common import calibrated, tiles_to_map

MODEL_FILE = "ai_cnn.onnx"
META_FILE = "ai_cnn.json"
# tiles per axis of the size-normalised image (the image logit is the mean tile logit); the fast profile reads one
# central tile (the leave-one-generator-out numbers are for one 224 x 224 crop per image)
TILES_PER_AXIS = {"fast": 1, "default": 3, "thorough": 3}
_lock = threading.Lock()


def _session() -> Any:
    from pixelsleuth.models.registry import trained_session

    return trained_session(MODEL_FILE, 1)


def meta() -> dict[str, Any]:
    from pixelsleuth.models.registry import trained_meta

    return trained_meta(META_FILE)


def cnn_logits(tiles: list[np.ndarray], batch: int = 1) -> np.ndarray:
    """One logit per uint8 RGB tile (any size, all the same size within a call). One tile per run is the fastest
    on one CPU thread (benchmarks/ai_speed.py)."""
    with _lock:
        sess = _session()
    name = sess.get_inputs()[0].name
    out = []
    for i in range(0, len(tiles), batch):
        x = np.ascontiguousarray(np.stack(tiles[i : i + batch]).astype(np.float32).transpose(0, 3, 1, 2))
        out.append(np.asarray(sess.run(None, {name: x})[0], np.float64).reshape(-1))
    return np.concatenate(out) if out else np.zeros(0)


def _calibrated(logits: np.ndarray) -> np.ndarray:
    """P(generated) of raw network logits through the fusion's ``cnn_only`` variant (standardised by the shipped
    network's logit mean / sd on real training photos, then Platt or isotonic); a plain sigmoid without it."""
    from pixelsleuth.fusion.ai_calibration import calibrate, combined_logit, fusion_config

    v = fusion_config().get("variants", {}).get("cnn_only")
    if v is None:
        return calibrated(logits, 1.0, 0.0)
    return np.array([calibrate(v, combined_logit(v, [float(x)])) for x in np.ravel(logits)])


@register
class AICnn(Detector):
    name = "ai_cnn"
    version = "1"
    family = Family.AI_GENERATED
    requires = frozenset({"rgb"})
    profiles = frozenset({"fast", "default", "thorough"})
    description = (
        "MobileNetV2 trunk fine-tuned by us on generator vs camera pixels (ImageNet-initialised; ONNX, shipped)."
    )

    def unavailable_reason(self, image: ImageData, context: Context) -> str | None:
        try:
            _session()
        except Exception as e:  # noqa: BLE001 - a broken runtime or file skips this detector only
            return f"the packaged CNN could not be loaded ({type(e).__name__}: {e})"
        return super().unavailable_reason(image, context)

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        per_axis = int(context.opt(self.name, "tiles_per_axis", TILES_PER_AXIS.get(context.profile, 3)))
        if per_axis <= 1:  # the central tile of the 3 x 3 grid
            tiles, corners, scale, padded = image_tiles(image.rgb, max_per_axis=3)
            mid = len(tiles) // 2
            tiles, corners = tiles[mid : mid + 1], corners[mid : mid + 1]
        else:
            tiles, corners, scale, padded = image_tiles(image.rgb, max_per_axis=per_axis)
        logits = cnn_logits(tiles)
        mean_logit = float(logits.mean())
        score = float(_calibrated(np.asarray([mean_logit]))[0])
        if padded:
            score = 0.5 + (score - 0.5) * 0.5  # tiny inputs: halve the confidence
        per_tile = _calibrated(logits)
        m = tiles_to_map(image.shape, scale, corners, per_tile.tolist())
        data = {"tiles": len(tiles), "score": round(score, 4)}
        if score >= 0.5:
            f = Finding(
                f"Our pixel-level CNN finds generator-like traces (score {score:.2f}).",
                severity=Severity.MODERATE if score >= 0.8 else Severity.WEAK,
                supports=Supports.AI_GENERATED,
                data=data,
                code="ai_cnn.generator_traces",
            )
        else:
            f = Finding(
                f"Our pixel-level CNN finds camera-like pixels rather than generator traces (score {score:.2f}).",
                data=data,
                code="ai_cnn.no_traces",
            )
        return self.evidence(
            score=score,
            map=m,
            reliability=np.full(image.shape, 0.5 if padded else 1.0, np.float32),
            findings=[f],
            extra={
                "logit": mean_logit,
                "tile_scores": [round(float(v), 4) for v in per_tile],
                "small": padded,
            },
        )
