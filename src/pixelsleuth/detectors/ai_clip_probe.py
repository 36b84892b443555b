"""Universal-feature probe for AI-generated images: frozen CLIP ViT-B/16 embeddings + our small linear head.

In the spirit of UniversalFakeDetect (Ojha et al., CVPR 2023): a large pretrained image encoder's embedding
space separates real and generated images well even for generators never seen in training, so only a linear
head is learned. The encoder comes from the model registry (``clip_vit_b16_int8``; fetch it with
``pixelsleuth models fetch clip_vit_b16_int8``); the head is ours (``models/trained/ai_clip_head.json``, trained
by benchmarks/ai_train.py on native-resolution 224x224 crops, calibrated so 0.5 is the threshold at equal priors).

The encoder is INT8 (dynamically quantized). Two run-time details matter for its accuracy:

* On x86 CPUs without VNNI (AVX2 only, e.g. many AMD and older Intel machines) onnxruntime's u8 x s8 kernels
  saturate 16-bit intermediate sums, which corrupts the embeddings (on such a machine the probe's AUC fell from
  1.0 to 0.68 on a 26-image check). There ``session.x64quantprecision`` makes onnxruntime widen to 16 bit first
  (about 20% slower); CPUs that list a VNNI extension keep the fast kernels.
* Dynamic quantization picks one activation scale per tensor, i.e. per batch, so a crop's embedding would depend
  on the other crops batched with it. Each crop is therefore run on its own.
"""

from __future__ import annotations

import threading

import numpy as np

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData
from pixelsleuth.models.ai_common import (
    TILE,
    LinearModel,
    calibrated,
    normalise_size,
    pad_to_tile,
    tiles_to_map,
)

MODEL_NAME = "clip_vit_b16_int8"
HEAD_FILE = "ai_clip_head.json"
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)

_lock = threading.Lock()
_SESSION = None
_HEAD: LinearModel | None = None


def _cpu_has_vnni() -> bool:
    """True when /proc/cpuinfo lists a VNNI extension (whose int8 kernels do not saturate); False if unknown."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = fh.read(1 << 16)
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def clip_session(threads: int = 2):  # noqa: ANN201 - onnxruntime.InferenceSession
    """The CLIP image encoder (loaded once per process, sha256-verified by the registry)."""
    global _SESSION
    with _lock:
        if _SESSION is None:
            import onnxruntime as ort

            from pixelsleuth.models.registry import model_path

            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            if not _cpu_has_vnni():  # int8 kernels without VNNI saturate 16-bit sums: widen first
                so.add_session_config_entry("session.x64quantprecision", "1")
            _SESSION = ort.InferenceSession(
                str(model_path(MODEL_NAME)), so, providers=["CPUExecutionProvider"]
            )
        return _SESSION


def clip_embed(tiles: list[np.ndarray], batch: int = 1) -> np.ndarray:
    """L2-normalised 512-d embeddings of uint8 RGB TILE x TILE tiles.

    ``batch`` > 1 is faster but makes each embedding depend on its batch mates (one quantization scale per batch);
    the shipped head was trained with ``batch=1``."""
    sess = clip_session()
    name = sess.get_inputs()[0].name
    out = []
    for i in range(0, len(tiles), batch):
        x = np.stack([(t.astype(np.float32) / 255.0 - CLIP_MEAN) / CLIP_STD for t in tiles[i : i + batch]])
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        e = np.asarray(sess.run(["image_embeds"], {name: x})[0], np.float32)
        out.append(e / (np.linalg.norm(e, axis=1, keepdims=True) + 1e-8))
    return np.concatenate(out)


# The default profile embeds the centre crop only: the leave-one-generator-out evaluation (benchmarks/ai_data.py,
# ai_train.py) scores one native-resolution 224 x 224 crop per image too (at a random position), and one crop fits
# the 0.5 s/image budget on a 2-core CPU without VNNI; thorough averages the logits of 5 crops (more coverage).
CROPS_BY_PROFILE = {"fast": 1, "default": 1, "thorough": 5}


def five_crops(rgb: np.ndarray, n: int = 5) -> tuple[list[np.ndarray], list[tuple[int, int]], float, bool]:
    """Centre (+ opposite corners, + the other two corners) TILE crops of the size-normalised image.

    ``n`` = 1, 3 or 5 crops; fewer when the image is small (duplicates are dropped)."""
    norm, scale = normalise_size(rgb)
    padded = min(norm.shape[:2]) < TILE
    norm = pad_to_tile(norm)
    h, w = norm.shape[:2]
    order = [((h - TILE) // 2, (w - TILE) // 2), (0, 0), (h - TILE, w - TILE), (0, w - TILE), (h - TILE, 0)]
    cs: list[tuple[int, int]] = []
    for c in order[: max(1, n)]:
        if c not in cs:
            cs.append(c)
    return [norm[y : y + TILE, x : x + TILE] for y, x in cs], cs, scale, padded


def load_head() -> LinearModel:
    global _HEAD
    if _HEAD is None:
        from pixelsleuth.models.registry import trained_path

        _HEAD = LinearModel.load(trained_path(HEAD_FILE))
    return _HEAD


@register
class AIClipProbe(Detector):
    name = "ai_clip_probe"
    version = "1"
    family = Family.AI_GENERATED
    requires = frozenset({"rgb", f"model:{MODEL_NAME}"})
    profiles = frozenset({"default", "thorough"})
    description = (
        "Frozen CLIP ViT-B/16 embedding with a linear head trained by us (UniversalFakeDetect-style)."
    )

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        head = load_head()
        n = int(context.opt(self.name, "crops", CROPS_BY_PROFILE.get(context.profile, 1)))
        tiles, corners, scale, padded = five_crops(image.rgb, n)
        emb = clip_embed(tiles)
        logits = head.logit(emb)
        mean_logit = float(logits.mean())
        score = float(calibrated(np.asarray([mean_logit]), head.platt_a, head.platt_b)[0])
        if padded:
            score = 0.5 + (score - 0.5) * 0.5
        per_tile = calibrated(logits, head.platt_a, head.platt_b)
        m = tiles_to_map(image.shape, scale, corners, per_tile.tolist())
        if score >= 0.5:
            f = Finding(
                f"The image's CLIP embedding lies on the generated-image side of our probe (score {score:.2f}).",
                severity=Severity.MODERATE if score >= 0.8 else Severity.WEAK,
                supports=Supports.AI_GENERATED,
                data={"score": round(score, 4), "crops": len(tiles)},
                code="ai_clip_probe.generated_like",
            )
        else:
            f = Finding(
                f"The image's CLIP embedding lies on the real-photo side of our probe (score {score:.2f}).",
                data={"score": round(score, 4), "crops": len(tiles)},
                code="ai_clip_probe.real_like",
            )
        return self.evidence(
            score=score,
            map=m,
            reliability=np.full(image.shape, 0.5 if padded else 0.8, np.float32),
            findings=[f],
            extra={"logit": mean_logit, "crop_scores": [round(float(v), 4) for v in per_tile]},
        )
