"""Writing outputs atomically: a reader never sees a half-written file, and a crash leaves none behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from pixelsleuth.report.html import image_page, index_page
from pixelsleuth.report.model import Report
from pixelsleuth.report.render import map_to_uint8, overlay, png_bytes


def _umask() -> int:
    cur = os.umask(0)
    os.umask(cur)
    return cur


_UMASK = _umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_outputs(report: Report, out_dir: Path, stem: str, html_page: bool = True) -> dict[str, Any]:
    """Write `<stem>.json`, `<stem>.map.png`, `<stem>.overlay.png`, per-detector maps and `<stem>.html`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Any] = {}
    maps: dict[str, np.ndarray] = {}
    image = report.image
    if image is not None:
        fused = report.map
        if fused is None:
            fused = np.zeros(image.shape, dtype=np.float32)
        atomic_write_bytes(out_dir / f"{stem}.map.png", png_bytes(map_to_uint8(fused)))
        atomic_write_bytes(out_dir / f"{stem}.overlay.png", png_bytes(overlay(image.rgb, fused)))
        outputs["map"] = f"{stem}.map.png"
        outputs["overlay"] = f"{stem}.overlay.png"
        det_files: dict[str, str] = {}
        for ev, d in zip(report.evidence, report.data["detectors"], strict=True):
            if ev.map is None:
                continue
            maps[ev.detector] = ev.map
            fn = f"{stem}.{ev.detector}.png"
            atomic_write_bytes(out_dir / fn, png_bytes(map_to_uint8(ev.map)))
            d["map_file"] = fn
            det_files[ev.detector] = fn
        outputs["detector_maps"] = det_files
    outputs["json"] = f"{stem}.json"
    if html_page:
        outputs["html"] = f"{stem}.html"
    report.data["outputs"] = outputs
    atomic_write_text(out_dir / f"{stem}.json", report.to_json())
    if html_page:
        page = image_page(report.data, image.rgb if image is not None else None, report.map, maps)
        atomic_write_text(out_dir / f"{stem}.html", page)
    return outputs


def write_index(out_dir: Path, rows: list[dict[str, Any]]) -> Path:
    p = out_dir / "index.html"
    atomic_write_text(p, index_page(rows))
    return p


class JsonlWriter:
    """results.jsonl: one complete line per image, flushed as it is written; replaced atomically at close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = path.with_name(f".{path.name}.partial")
        self._fh = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["JsonlWriter", "atomic_write_bytes", "atomic_write_text", "write_index", "write_outputs"]
