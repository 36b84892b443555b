"""Learned manipulation localization: an encoder-decoder network we fine-tuned on synthetic forgeries (ONNX, shipped).

The network (``pixelsleuth/models/trained/manip_cnn.onnx``, about 0.7M parameters, ``ManipMNV2`` of
benchmarks/manip_cnn_model.py) reads the RGB pixels through a MobileNetV2 encoder and, beside it, a fixed Laplacian
residual through a small stem of its own, and returns a tampering logit per 4x4 block. The encoder started from
ImageNet weights (torchvision, BSD-3-Clause; the registry model ``mobilenet_v2_imagenet``, needed only to retrain
it); benchmarks/manip_cnn_train.py ``--network mnv2`` fine-tuned everything on forgeries that ``pixelsleuth synth``
made from the ``train`` split of the development photos (splicing, copy-move, inpainting, resampling, local
filtering and colour edits, double JPEG), with JPEG re-encoding as augmentation. It learns what the hand-built
detectors measure separately (noise, interpolation, filtering and blending traces) plus edge, colour and object
cues none of them model, so it is one more independent cue for the fusion, not a replacement: it has only seen our
synthesizer's edits, and the benchmark says how far that carries (docs/bench/fusion.md).

Output contract: ``map`` is the per-pixel probability of being edited, shifted so that 0.5 is the pixel threshold
chosen on held-out validation photos; ``score`` is Platt-calibrated (on the same validation photos) from the mean
of the map's top 1%, 0.5 = image threshold at equal priors.

Large images are analysed at native resolution in overlapping 1024-pixel tiles; the ``default`` profile first
downsizes images above ``max_pixels`` (4 MP) so its cost stays bounded, ``thorough`` never downsizes.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import cv2
import numpy as np

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData
from pixelsleuth.models.ai_common import calibrated

MODEL_FILE = "manip_cnn.onnx"
META_FILE = "manip_cnn.json"
TILE = 1024
OVERLAP = 64
MAX_PIXELS = {"default": 4_000_000, "thorough": 0}
_lock = threading.Lock()


def _session() -> Any:
    from pixelsleuth.models.registry import trained_session

    return trained_session(MODEL_FILE, 2)


def meta() -> dict[str, Any]:
    from pixelsleuth.models.registry import trained_meta

    return trained_meta(META_FILE)


def _run(rgb: np.ndarray) -> np.ndarray:
    """Logits at 1/4 resolution (ceil) of one uint8 RGB array, padded by reflection to a multiple of 16."""
    h, w = rgb.shape[:2]
    ph, pw = (-h) % 16, (-w) % 16
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "edge"
        rgb = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode=mode)
    x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None].astype(np.float32))
    with _lock:
        sess = _session()
    out = np.asarray(sess.run(None, {sess.get_inputs()[0].name: x})[0], np.float32)[0, 0]
    return out[: -(-h // 4), : -(-w // 4)]


def logits_quarter(rgb: np.ndarray, tile: int = TILE, overlap: int = OVERLAP) -> np.ndarray:
    """Per-4x4-block logits of the whole image; tiles of ``tile`` pixels overlapping by ``overlap``, averaged."""
    h, w = rgb.shape[:2]
    if h <= tile and w <= tile:
        return _run(rgb)
    hq, wq = -(-h // 4), -(-w // 4)
    acc = np.zeros((hq, wq), np.float64)
    cnt = np.zeros((hq, wq), np.float64)
    step = tile - overlap
    ys = list(range(0, max(1, h - tile), step)) + [max(0, h - tile)]
    xs = list(range(0, max(1, w - tile), step)) + [max(0, w - tile)]
    for y0 in sorted(set(ys)):
        for x0 in sorted(set(xs)):
            y0q, x0q = (
                y0 // 4,
                x0 // 4,
            )  # tile corners are multiples of 4 (tile, step and h - tile rounded below)
            lg = _run(rgb[y0q * 4 : y0q * 4 + tile, x0q * 4 : x0q * 4 + tile])
            acc[y0q : y0q + lg.shape[0], x0q : x0q + lg.shape[1]] += lg
            cnt[y0q : y0q + lg.shape[0], x0q : x0q + lg.shape[1]] += 1
    return (acc / np.maximum(cnt, 1)).astype(np.float32)


def peak(prob: np.ndarray, fraction: float) -> float:
    """Mean of the largest ``fraction`` of the values (at least one)."""
    v = prob.ravel()
    k = max(1, int(round(fraction * v.size)))
    return float(np.partition(v, v.size - k)[v.size - k :].mean())


def peak_logit(p: float) -> float:
    """The logit of a peak value (clipped to [1e-6, 1 - 1e-6]): the input of the image score's Platt map."""
    q = min(max(float(p), 1e-6), 1 - 1e-6)
    return math.log(q / (1 - q))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)


@register
class ManipCnn(Detector):
    name = "manip_cnn"
    version = "1"
    family = Family.MANIPULATION
    requires = frozenset({"rgb"})
    profiles = frozenset({"default", "thorough"})
    description = (
        "Encoder-decoder network (ImageNet-initialised MobileNetV2 encoder) fine-tuned by us on synthetic forgeries; "
        "per-pixel tampering map (ONNX, shipped)."
    )

    def unavailable_reason(self, image: ImageData, context: Context) -> str | None:
        try:
            _session()
            meta()
        except Exception as e:  # noqa: BLE001 - a broken runtime or file skips this detector only
            return f"the packaged localization network could not be loaded ({type(e).__name__}: {e})"
        if min(image.shape) < 32:
            return "image smaller than 32 pixels"
        return super().unavailable_reason(image, context)

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        md = meta()
        val = md["validation"]
        offset = float(val["map_offset"])
        a, b = (float(v) for v in val["platt"])
        h, w = image.shape
        rgb = image.rgb
        limit = int(context.opt(self.name, "max_pixels", MAX_PIXELS.get(context.profile, 0)))
        scale = 1.0
        if limit and h * w > limit:
            scale = math.sqrt(limit / (h * w))
            size = (max(32, round(w * scale)), max(32, round(h * scale)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        lq = logits_quarter(rgb) + offset
        prob_q = _sigmoid(lq)
        pk = peak(prob_q, float(md.get("top_fraction", 0.01)))
        score = float(calibrated(np.asarray([peak_logit(pk)]), a, b)[0])
        # upsample logits (not probabilities) so the 0.5 contour is interpolated smoothly
        full = cv2.resize(lq, (lq.shape[1] * 4, lq.shape[0] * 4), interpolation=cv2.INTER_LINEAR)
        full = full[: rgb.shape[0], : rgb.shape[1]]
        if full.shape != (h, w):
            full = cv2.resize(full, (w, h), interpolation=cv2.INTER_LINEAR)
        m = _sigmoid(full)
        area = float((prob_q >= 0.5).mean())
        data = {
            "score": round(score, 4),
            "peak": round(pk, 4),
            "area": round(area, 4),
            "scale": round(scale, 4),
        }
        findings = []
        if score >= 0.5:
            findings.append(
                Finding(
                    f"Our learned localization network marks {area * 100:.1f}% of the image as edited "
                    f"(score {score:.2f}).",
                    severity=Severity.MODERATE if score >= 0.8 else Severity.WEAK,
                    supports=Supports.MANIPULATED,
                    data=data,
                    code="manip_cnn.edited_region",
                )
            )
        else:
            findings.append(
                Finding(
                    f"Our learned localization network finds no clearly edited region (score {score:.2f}).",
                    data=data,
                    code="manip_cnn.no_region",
                )
            )
        if scale < 1.0:
            findings.append(
                Finding(
                    f"The image was analysed at {scale:.2f}x its size to bound the cost; use the thorough profile "
                    "for native resolution.",
                    data={"scale": round(scale, 4)},
                    code="manip_cnn.downscaled",
                )
            )
        rel = np.full((h, w), 0.7 if scale < 1.0 else 1.0, np.float32)
        return self.evidence(score=score, map=m, reliability=rel, findings=findings, extra={"peak": pk})
