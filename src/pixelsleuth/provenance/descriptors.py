"""Image signals for copy detection: a compact global descriptor and ORB local features.

The global descriptor is 128-D float32, L2-normalised, of one of two kinds:

* ``mnv2-v1``: our trained network (``provenance/trained/descriptor.onnx``, benchmarks/descriptor_train.py):
  MobileNetV2 layers fine-tuned for copy detection, GeM pooling, a 128-D projection, on a 160 x 160 input. The
  default for new indexes when the file is present and onnxruntime loads it.
* ``dctgrid-v1``: a hand-built descriptor (low-frequency DCT of the luma plus colour statistics), always available.

An index records the kind it was built with, and adds and searches compute that kind, so queries and references
are never compared across kinds; ``PIXELSLEUTH_DESCRIPTOR`` overrides the default for new indexes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from pixelsleuth.errors import PixelsleuthError

DESC_DIM = 128
LOCAL_MAX_SIDE = 640
REF_KEYPOINTS = 400
QUERY_KEYPOINTS = 800
ORB_BYTES = 32

_TRAINED = Path(__file__).with_name("trained") / "descriptor.onnx"
KIND_TRAINED = "mnv2-v1"
KIND_HANDMADE = "dctgrid-v1"
TRAINED_SIZE = 160  # input side of the trained network
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


class DescriptorUnavailableError(PixelsleuthError):
    """The descriptor kind an index was built with cannot be computed by this installation."""


@dataclass
class LocalFeatures:
    """ORB keypoints in the image's own pixel coordinates (float32 N x 2) and descriptors (uint8 N x 32)."""

    xy: np.ndarray
    desc: np.ndarray
    size: tuple[int, int]  # (h, w) of the image they were computed on (original coordinates)

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def to_bytes(self) -> tuple[bytes, bytes]:
        return self.xy.astype(np.float16).tobytes(), np.ascontiguousarray(self.desc, dtype=np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, xy: bytes, desc: bytes, size: tuple[int, int]) -> LocalFeatures:
        x = np.frombuffer(xy, dtype=np.float16).reshape(-1, 2).astype(np.float32)
        d = np.frombuffer(desc, dtype=np.uint8).reshape(-1, ORB_BYTES)
        return cls(x, d, size)


def to_gray_u8(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 2:
        return rgb.astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)


def _fit(img: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = img.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s < 1.0:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return img, s


def local_features(
    rgb: np.ndarray, n_features: int = REF_KEYPOINTS, max_side: int = LOCAL_MAX_SIDE
) -> LocalFeatures:
    """ORB features on a copy reduced to ``max_side``; a grid cap keeps keypoints spread over the image."""
    gray = to_gray_u8(rgb)
    small, s = _fit(gray, max_side)
    small = cv2.equalizeHist(small) if small.std() < 25 else small
    orb = cv2.ORB_create(
        nfeatures=n_features * 3,
        scaleFactor=1.25,
        nlevels=8,
        edgeThreshold=15,
        patchSize=31,
        fastThreshold=10,
    )
    kps, desc = orb.detectAndCompute(small, None)
    h, w = gray.shape
    if desc is None or len(kps) == 0:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, ORB_BYTES), np.uint8), (h, w))
    resp = np.array([k.response for k in kps], np.float32)
    pts = np.array([k.pt for k in kps], np.float32)
    # spatial spreading: keep the strongest few per cell of a 6 x 6 grid, then fill by response
    gh, gw = small.shape[:2]
    cell = (np.minimum(pts[:, 1] * 6 // gh, 5) * 6 + np.minimum(pts[:, 0] * 6 // gw, 5)).astype(int)
    order = np.argsort(-resp)
    per_cell = max(1, n_features // 36)
    counts = np.zeros(36, int)
    first, rest = [], []
    for i in order:
        if counts[cell[i]] < per_cell:
            counts[cell[i]] += 1
            first.append(i)
        else:
            rest.append(i)
    keep = np.array((first + rest)[:n_features], int)
    return LocalFeatures((pts[keep] / s).astype(np.float32), desc[keep], (h, w))


@lru_cache(maxsize=1)
def _onnx_session():
    if not _TRAINED.exists():
        return None
    try:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(str(_TRAINED), opts, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - a broken runtime falls back to the hand-built kind
        return None


def available_kinds() -> tuple[str, ...]:
    return (KIND_TRAINED, KIND_HANDMADE) if _onnx_session() is not None else (KIND_HANDMADE,)


def descriptor_kind() -> str:
    """The kind new indexes are built with: ``PIXELSLEUTH_DESCRIPTOR`` if set, else the trained one when present."""
    want = os.environ.get("PIXELSLEUTH_DESCRIPTOR", "").strip()
    if want:
        if want not in (KIND_TRAINED, KIND_HANDMADE):
            raise DescriptorUnavailableError(
                f"PIXELSLEUTH_DESCRIPTOR={want!r} is not a descriptor kind ({KIND_TRAINED} or {KIND_HANDMADE})"
            )
        return want
    return available_kinds()[0]


def _zigzag_low(n: int, count: int) -> np.ndarray:
    idx = sorted(
        ((i, j) for i in range(n) for j in range(n) if (i, j) != (0, 0)), key=lambda t: (t[0] + t[1], t[0])
    )
    return np.array(idx[:count])


_ZZ = _zigzag_low(16, 112)


def _handmade(rgb: np.ndarray) -> np.ndarray:
    img = rgb if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, axis=2)
    small = cv2.resize(np.ascontiguousarray(img[..., :3]), (64, 64), interpolation=cv2.INTER_AREA).astype(
        np.float32
    )
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    gray = (gray - gray.mean()) / (gray.std() + 1e-3)
    d = cv2.dct(gray)
    g = d[_ZZ[:, 0], _ZZ[:, 1]]
    g = np.sign(g) * np.sqrt(np.abs(g))  # power normalisation
    lab = cv2.cvtColor(small / 255.0, cv2.COLOR_RGB2Lab)
    cols = []
    for ys in (slice(0, 32), slice(32, 64)):
        for xs in (slice(0, 32), slice(32, 64)):
            p = lab[ys, xs].reshape(-1, 3)
            cols.extend(list(p[:, 1:].mean(0) / 20.0) + list(p[:, 1:].std(0) / 20.0))
    cols_arr = np.array(cols, np.float32)
    v = np.concatenate(
        [g / (np.linalg.norm(g) + 1e-6) * 0.9, cols_arr / (np.linalg.norm(cols_arr) + 1e-6) * 0.44]
    )
    v = np.asarray(v, np.float32)
    return v / (np.linalg.norm(v) + 1e-8)


def trained_input(rgb: np.ndarray) -> np.ndarray:
    """The trained network's input for one image: area resize to 160 x 160, ImageNet normalisation, 1x3xHxW."""
    img = rgb if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, axis=2)
    x = cv2.resize(
        np.ascontiguousarray(img[..., :3]), (TRAINED_SIZE, TRAINED_SIZE), interpolation=cv2.INTER_AREA
    )
    x = (x.astype(np.float32) / 255.0 - _MEAN) / _STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def global_descriptor(rgb: np.ndarray, kind: str | None = None) -> np.ndarray:
    """128-D float32 unit vector of the given kind (default: :func:`descriptor_kind`)."""
    kind = kind or descriptor_kind()
    if kind == KIND_HANDMADE:
        return _handmade(rgb)
    if kind != KIND_TRAINED:
        raise DescriptorUnavailableError(
            f"unknown descriptor kind {kind!r} (this version computes {', '.join(available_kinds())})"
        )
    sess = _onnx_session()
    if sess is None:
        raise DescriptorUnavailableError(
            f"the {KIND_TRAINED} descriptor model is missing or cannot be loaded "
            f"({_TRAINED.name} in pixelsleuth/provenance/trained, needs onnxruntime)"
        )
    out = sess.run(None, {sess.get_inputs()[0].name: trained_input(rgb)})[0][0].astype(np.float32)
    return out / (np.linalg.norm(out) + 1e-8)
