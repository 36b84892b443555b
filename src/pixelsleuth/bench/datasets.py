"""Benchmark datasets: a small manifest format plus loaders for plain folders, COVERAGE and CASIA samples.

A :class:`Dataset` is a list of :class:`Item` (image path, optional mask path, label 0/1, group). Loading checks
every mask's size against its image's display size (EXIF orientation applied); a mismatch is recorded in
``Dataset.errors`` and the item keeps its image-level label but loses its mask (``mask=None``,
``mask_error`` set): masks are never resized silently.

Manifest (CSV with a header, or JSON Lines): columns ``image`` (required), ``mask``, ``label`` (0/1; when
absent, 1 if a mask with tampered pixels is given, else 0), ``group``, ``id``, ``source_mask``; other columns are
kept in ``Item.meta``. Relative paths are resolved against the manifest's folder. The synthesizer's
``manifest.jsonl`` is a valid manifest.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pixelsleuth.errors import DatasetError, MaskMismatchError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".heic", ".heif", ".avif", ".gif")


@dataclass
class Item:
    id: str
    image: Path
    label: int | None  # 1 = manipulated, 0 = authentic, None = unknown
    mask: Path | None = None
    group: str = ""
    source_mask: Path | None = None
    mask_error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Dataset:
    name: str
    root: Path
    items: list[Item]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (item id, message)
    kind: str = "manifest"

    @property
    def n_pos(self) -> int:
        return sum(1 for i in self.items if i.label == 1)

    @property
    def n_neg(self) -> int:
        return sum(1 for i in self.items if i.label == 0)


# --------------------------------------------------------------------------------------------- masks


def display_size(path: Path) -> tuple[int, int]:
    """(width, height) after EXIF orientation, read from the header only."""
    with Image.open(path) as im:
        w, h = im.size
        try:
            o = int(im.getexif().get(0x0112, 1) or 1)
        except Exception:  # noqa: BLE001 - a broken EXIF block must not stop a benchmark
            o = 1
    return (h, w) if o in (5, 6, 7, 8) else (w, h)


def load_mask(path: Path, expected_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask as bool (True = tampered: any channel > 127). Raises MaskMismatchError on a size mismatch."""
    with Image.open(path) as im:
        a = np.asarray(im.convert("L"), dtype=np.uint8)
    if expected_hw is not None and a.shape != tuple(expected_hw):
        if a.shape == tuple(expected_hw)[::-1]:
            raise MaskMismatchError(
                f"{path.name}: mask is {a.shape[1]}x{a.shape[0]}, image is "
                f"{expected_hw[1]}x{expected_hw[0]} (rotated/transposed?)"
            )
        raise MaskMismatchError(
            f"{path.name}: mask is {a.shape[1]}x{a.shape[0]}, image is {expected_hw[1]}x{expected_hw[0]}"
        )
    return a > 127


def _check_masks(ds: Dataset) -> Dataset:
    for it in ds.items:
        if it.mask is None:
            continue
        if not it.mask.exists():
            msg = f"mask file not found: {it.mask}"
            ds.errors.append((it.id, msg))
            it.mask_error, it.mask = msg, None
            continue
        try:
            iw, ih = display_size(it.image)
            with Image.open(it.mask) as m:
                mw, mh = m.size
        except OSError as e:
            ds.errors.append((it.id, f"cannot read {it.image.name} or its mask: {e}"))
            it.mask_error, it.mask = str(e), None
            continue
        if (mw, mh) != (iw, ih):
            how = " (transposed)" if (mh, mw) == (iw, ih) else ""
            msg = (
                f"mask {it.mask.name} is {mw}x{mh} but image {it.image.name} is {iw}x{ih}{how}; mask not used"
            )
            ds.errors.append((it.id, msg))
            it.mask_error, it.mask = msg, None
    return ds


# --------------------------------------------------------------------------------------------- loaders


def _to_int_label(v: Any, where: str) -> int | None:
    if v is None or v == "":
        return None
    s = str(v).strip().lower()
    if s in ("1", "true", "forged", "fake", "tampered", "manipulated", "positive"):
        return 1
    if s in ("0", "false", "authentic", "real", "pristine", "original", "negative"):
        return 0
    raise DatasetError(f"{where}: label {v!r} is not 0/1")


def load_manifest(path: str | Path) -> Dataset:
    """Read a CSV (header row) or JSON Lines manifest."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"manifest not found: {p}")
    rows: list[dict[str, Any]] = []
    if p.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DatasetError(f"{p.name} line {n}: not JSON ({e.msg})") from e
    else:
        with open(p, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    root = p.parent
    items: list[Item] = []
    errors: list[tuple[str, str]] = []
    for n, r in enumerate(rows, 1):
        where = f"{p.name} row {n}"
        if not r.get("image"):
            raise DatasetError(f"{where}: no 'image' column/value")
        img = (
            (root / str(r["image"])).resolve()
            if not Path(str(r["image"])).is_absolute()
            else Path(str(r["image"]))
        )
        iid = str(r.get("id") or Path(str(r["image"])).stem)
        if not img.exists():
            errors.append((iid, f"image not found: {img}"))
            continue
        mask = None
        if r.get("mask"):
            mask = Path(str(r["mask"]))
            mask = mask if mask.is_absolute() else (root / mask).resolve()
        smask = None
        if r.get("source_mask"):
            smask = Path(str(r["source_mask"]))
            smask = smask if smask.is_absolute() else (root / smask).resolve()
        label = _to_int_label(r.get("label"), where)
        if label is None:
            if mask is not None and mask.exists():
                label = int(load_mask(mask).any())
            else:
                label = 0 if mask is None else None
        known = {"image", "mask", "label", "group", "id", "source_mask"}
        meta = {k: v for k, v in r.items() if k not in known}
        if isinstance(meta.get("params"), str):
            try:
                meta["params"] = json.loads(meta["params"])
            except json.JSONDecodeError:
                pass
        items.append(Item(iid, img, label, mask, str(r.get("group") or iid), smask, meta=meta))
    name = root.name if p.stem == "manifest" else p.stem
    return _check_masks(Dataset(name, root, items, errors, kind="manifest"))


def _find_mask(stem: str, mask_dirs: Sequence[Path], image_dir: Path | None = None) -> Path | None:
    """``stem`` + "" / _gt / _mask in dedicated mask folders; only the suffixed names next to the image."""
    for d in [*mask_dirs, *([image_dir] if image_dir is not None else [])]:
        suffixes = (
            ("_gt", "_mask", "-mask", "_GT") if d == image_dir else ("", "_gt", "_mask", "-mask", "_GT")
        )
        for suffix in suffixes:
            for ext in (".png", ".bmp", ".tif", ".jpg"):
                q = d / f"{stem}{suffix}{ext}"
                if q.exists():
                    return q
    return None


_NEG_DIRS = ("authentic", "real", "original", "originals", "pristine", "au", "0_real", "negative")
_POS_DIRS = ("tampered", "forged", "fake", "manipulated", "tp", "1_fake", "positive", "spliced")
_MASK_DIRS = ("masks", "mask", "gt", "groundtruth", "ground_truth")


def load_folder(path: str | Path) -> Dataset:
    """Plain layout: sub-folders named like ``authentic/`` (label 0) and ``tampered/`` (label 1), with masks in
    ``masks/`` (or ``gt/``) matched by stem (``name.png``, ``name_gt.png``, ``name_mask.png``). A folder with no
    such sub-folders is read as all-unlabelled images with masks next to them (``name_gt.png``)."""
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    subs = {d.name.lower(): d for d in root.iterdir() if d.is_dir()}
    mask_dirs = [subs[n] for n in _MASK_DIRS if n in subs]
    items: list[Item] = []

    def images_in(d: Path) -> list[Path]:
        return sorted(
            q
            for q in d.iterdir()
            if q.suffix.lower() in IMAGE_EXTS and not re.search(r"(_gt|_mask|-mask)$", q.stem, re.IGNORECASE)
        )

    labelled = [(0, subs[n]) for n in _NEG_DIRS if n in subs] + [(1, subs[n]) for n in _POS_DIRS if n in subs]
    if labelled:
        for label, d in labelled:
            for q in images_in(d):
                m = _find_mask(q.stem, mask_dirs, d) if label == 1 else None
                items.append(Item(f"{d.name}/{q.stem}", q, label, m, q.stem))
    else:
        for q in images_in(root):
            m = _find_mask(q.stem, mask_dirs, root)
            items.append(Item(q.stem, q, None if m is None else 1, m, q.stem))
    if not items:
        raise DatasetError(f"no images found under {root}")
    return _check_masks(Dataset(root.name, root, items, kind="folder"))


def load_coverage(path: str | Path, mask_variant: str = "forged") -> Dataset:
    """COVERAGE: ``image/N.png`` (authentic, label 0) and ``image/Nt.png`` (copy-move, label 1) with
    ``mask/N<variant>.png``; ``mask_variant`` is ``forged`` (the dataset's forged region, default), ``paste``
    or ``copy``. The copy (source) mask is kept as ``source_mask``. Group = N, so pairs stay together."""
    root = Path(path)
    imgd, maskd = root / "image", root / "mask"
    if not imgd.is_dir() or not maskd.is_dir():
        raise DatasetError(f"{root} does not look like COVERAGE (needs image/ and mask/)")
    if mask_variant not in ("forged", "paste", "copy"):
        raise DatasetError(f"COVERAGE mask variant must be forged, paste or copy, not {mask_variant!r}")
    ids = sorted({int(m.group(1)) for q in imgd.glob("*.png") if (m := re.fullmatch(r"(\d+)t?", q.stem))})
    items: list[Item] = []
    for n in ids:
        a, t = imgd / f"{n}.png", imgd / f"{n}t.png"
        if a.exists():
            items.append(Item(f"{n}", a, 0, None, str(n)))
        if t.exists():
            m = maskd / f"{n}{mask_variant}.png"
            s = maskd / f"{n}copy.png"
            items.append(Item(f"{n}t", t, 1, m if m.exists() else None, str(n), s if s.exists() else None))
    if not items:
        raise DatasetError(f"no COVERAGE images found in {imgd}")
    return _check_masks(Dataset("coverage", root, items, kind="coverage"))


def load_casia(path: str | Path) -> Dataset:
    """CASIA v2 samples: ``Tp_*`` images (label 1) with ``*_gt.png`` masks; ``Au_*`` images, if any, label 0."""
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    items: list[Item] = []
    for q in sorted(root.rglob("*")):
        if q.suffix.lower() not in IMAGE_EXTS or q.stem.endswith("_gt"):
            continue
        if q.name.startswith("Tp_"):
            m = q.with_name(q.stem + "_gt.png")
            items.append(Item(q.stem, q, 1, m if m.exists() else None, q.stem))
        elif q.name.startswith("Au_"):
            items.append(Item(q.stem, q, 0, None, q.stem))
    if not items:
        raise DatasetError(f"no CASIA Tp_/Au_ images found under {root}")
    return _check_masks(Dataset("casia", root, items, kind="casia"))


def detect_kind(path: str | Path) -> str:
    p = Path(path)
    if p.is_file():
        return "manifest"
    if not p.is_dir():
        raise DatasetError(f"no such file or folder: {p}")
    if (p / "manifest.jsonl").exists() or (p / "manifest.csv").exists():
        return "manifest"
    if (p / "image").is_dir() and (p / "mask").is_dir():
        return "coverage"
    if any(q.name.startswith("Tp_") for q in p.iterdir()):
        return "casia"
    return "folder"


def limit_items(items: list[Item], limit: int) -> list[Item]:
    """Keep ``limit`` items, alternating labels (deterministic: dataset order within each label)."""
    if limit >= len(items):
        return list(items)
    by: dict[Any, list[Item]] = {}
    for it in items:
        by.setdefault(it.label, []).append(it)
    out: list[Item] = []
    queues = [list(v) for _, v in sorted(by.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]
    while len(out) < limit and any(queues):
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out


def load_dataset(path: str | Path, kind: str = "auto", limit: int | None = None, **kw: Any) -> Dataset:
    """Load a dataset of ``kind`` (auto, manifest, folder, coverage, casia); ``limit`` keeps the first N items,
    alternating labels."""
    p = Path(path)
    k = detect_kind(p) if kind == "auto" else kind
    if k == "manifest":
        if p.is_dir():
            p = p / "manifest.jsonl" if (p / "manifest.jsonl").exists() else p / "manifest.csv"
        ds = load_manifest(p)
    elif k == "folder":
        ds = load_folder(p)
    elif k == "coverage":
        ds = load_coverage(p, **kw)
    elif k == "casia":
        ds = load_casia(p)
    else:
        raise DatasetError(f"unknown dataset kind {kind!r}; use auto, manifest, folder, coverage or casia")
    if limit:
        ds.items = limit_items(ds.items, limit)
    return ds
