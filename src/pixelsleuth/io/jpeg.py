"""A small, defensive JPEG marker parser (no pixel decoding).

It walks the marker segments up to the first SOS and collects what the rest of the toolkit needs: quantisation
tables (DQT), frame header (SOF: size, components, sampling factors, progressive flag) and the raw APPn/COM
payloads. It never raises for bad data: malformed input simply ends the walk, and ``JpegHeader.errors`` says why.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

# Zig-zag scan order: index k in the stored table -> natural (row-major) position.
ZIGZAG = np.array(
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
        12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ],
    dtype=np.intp,
)  # fmt: skip

# The example tables of the JPEG standard (Annex K), natural order; libjpeg scales these by quality.
STD_LUMA = np.array(
    [
        16, 11, 10, 16, 24, 40, 51, 61,
        12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77,
        24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101,
        72, 92, 95, 98, 112, 100, 103, 99,
    ],
    dtype=np.float64,
).reshape(8, 8)  # fmt: skip
STD_CHROMA = np.array(
    [
        17, 18, 24, 47, 99, 99, 99, 99,
        18, 21, 26, 66, 99, 99, 99, 99,
        24, 26, 56, 99, 99, 99, 99, 99,
        47, 66, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
    ],
    dtype=np.float64,
).reshape(8, 8)  # fmt: skip

_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}


@dataclass
class JpegHeader:
    quant_tables: dict[int, np.ndarray] = field(default_factory=dict)
    width: int = 0
    height: int = 0
    components: list[tuple[int, int, int, int]] = field(default_factory=list)  # (id, h, v, qt index)
    progressive: bool = False
    sof_marker: int | None = None
    app: list[tuple[int, bytes]] = field(default_factory=list)  # (marker n for APPn, payload)
    comments: list[bytes] = field(default_factory=list)
    reached_sos: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def component_qt(self) -> tuple[int, ...]:
        return tuple(c[3] for c in self.components)

    @property
    def subsampling(self) -> str | None:
        if len(self.components) == 1:
            return "grayscale"
        if len(self.components) < 3:
            return None
        (_, h0, v0, _), (_, h1, v1, _), (_, h2, v2, _) = self.components[:3]
        if (h1, v1) != (h2, v2) or h1 == 0 or v1 == 0:
            return "other"
        if h0 % h1 or v0 % v1:
            return "other"
        ratio = (h0 // h1, v0 // v1)
        return {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (1, 2): "4:4:0", (4, 1): "4:1:1"}.get(
            ratio, "other"
        )


def parse_jpeg_header(data: bytes, max_segments: int = 4096) -> JpegHeader:
    """Walk markers from SOI to the first SOS. Never raises."""
    hdr = JpegHeader()
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        hdr.errors.append("no SOI marker")
        return hdr
    pos = 2
    for _ in range(max_segments):
        # skip fill bytes
        while pos < n and data[pos] == 0xFF and pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1
        if pos + 4 > n:
            hdr.errors.append("data ends inside the marker stream")
            return hdr
        if data[pos] != 0xFF:
            hdr.errors.append(f"expected a marker at offset {pos}")
            return hdr
        marker = data[pos + 1]
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            hdr.errors.append("EOI before any scan")
            return hdr
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > n:
            hdr.errors.append(f"segment 0x{marker:02X} at offset {pos} overruns the data")
            return hdr
        payload = data[pos + 4 : pos + 2 + length]
        if marker == 0xDA:
            hdr.reached_sos = True
            return hdr
        if marker == 0xDB:
            _parse_dqt(payload, hdr)
        elif marker in _SOF_MARKERS:
            _parse_sof(marker, payload, hdr)
        elif 0xE0 <= marker <= 0xEF:
            hdr.app.append((marker - 0xE0, bytes(payload)))
        elif marker == 0xFE:
            hdr.comments.append(bytes(payload))
        pos += 2 + length
    hdr.errors.append("too many segments")
    return hdr


def _parse_dqt(p: bytes, hdr: JpegHeader) -> None:
    i = 0
    while i < len(p):
        pq, tq = p[i] >> 4, p[i] & 0x0F
        i += 1
        size = 128 if pq else 64
        if i + size > len(p) or tq > 3:
            hdr.errors.append("malformed DQT segment")
            return
        if pq:
            vals = np.frombuffer(p[i : i + size], dtype=">u2").astype(np.uint16)
        else:
            vals = np.frombuffer(p[i : i + size], dtype=np.uint8).astype(np.uint16)
        table = np.zeros(64, dtype=np.uint16)
        table[ZIGZAG] = vals
        hdr.quant_tables[tq] = table.reshape(8, 8)
        i += size


def _parse_sof(marker: int, p: bytes, hdr: JpegHeader) -> None:
    if len(p) < 6:
        hdr.errors.append("malformed SOF segment")
        return
    _prec, h, w, nc = struct.unpack(">BHHB", p[:6])
    hdr.sof_marker = marker
    hdr.height, hdr.width = h, w
    hdr.progressive = marker in _PROGRESSIVE
    comps = []
    for k in range(nc):
        o = 6 + 3 * k
        if o + 3 > len(p):
            hdr.errors.append("SOF lists more components than it holds")
            break
        cid, hv, tq = p[o], p[o + 1], p[o + 2]
        comps.append((cid, hv >> 4, hv & 0x0F, tq))
    hdr.components = comps


def libjpeg_table(base: np.ndarray, quality: int) -> np.ndarray:
    """The table libjpeg (and Pillow) writes for ``quality`` (baseline-clamped to 1..255)."""
    q = min(100, max(1, int(quality)))
    scale = 5000 // q if q < 50 else 200 - 2 * q
    return np.clip(np.floor((base * scale + 50) / 100), 1, 255)


_LUMA_BANK = np.stack([libjpeg_table(STD_LUMA, q) for q in range(1, 101)])


def estimate_quality(luma_table: np.ndarray) -> float | None:
    """libjpeg-scale quality (1..100) whose standard luma table best matches ``luma_table``.

    Exact for tables written by libjpeg/Pillow; for custom tables it is the closest standard quality in the
    least-squares sense on log-values (a rough but monotone equivalent)."""
    t = np.asarray(luma_table, dtype=np.float64).reshape(8, 8)
    if not np.all(np.isfinite(t)) or t.min() <= 0:
        return None
    exact = np.nonzero(np.all(_LUMA_BANK == t, axis=(1, 2)))[0]
    if exact.size:
        return float(exact[-1] + 1)
    err = np.mean((np.log(_LUMA_BANK) - np.log(t)[None]) ** 2, axis=(1, 2))
    return float(int(np.argmin(err)) + 1)
