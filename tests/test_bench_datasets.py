"""Dataset loaders: manifests, folders, COVERAGE/CASIA layouts, mask size checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelsleuth.bench.datasets import (
    detect_kind,
    limit_items,
    load_casia,
    load_coverage,
    load_dataset,
    load_folder,
    load_manifest,
    load_mask,
)
from pixelsleuth.errors import DatasetError, MaskMismatchError

COVERAGE = Path(__file__).resolve().parents[2] / "shared" / "data" / "forgery" / "coverage"


def _img(path: Path, h: int = 40, w: int = 60, fmt: str = "PNG", orientation: int | None = None) -> Path:
    arr = (np.random.default_rng(len(str(path))).random((h, w, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(arr)
    if orientation:
        ex = Image.Exif()
        ex[0x0112] = orientation
        im.save(path, "JPEG", exif=ex.tobytes())
    else:
        im.save(path, fmt)
    return path


def _mask(path: Path, h: int = 40, w: int = 60, box: tuple[int, int, int, int] = (5, 15, 10, 30)) -> Path:
    m = np.zeros((h, w), np.uint8)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = 255
    Image.fromarray(m).save(path)
    return path


def test_manifest_csv_and_jsonl(tmp_path: Path) -> None:
    _img(tmp_path / "a.png")
    _img(tmp_path / "b.png")
    _mask(tmp_path / "b_m.png")
    _img(tmp_path / "c.png")
    _mask(tmp_path / "c_m.png", 30, 60)  # wrong size
    (tmp_path / "m.csv").write_text(
        "image,mask,label,group\na.png,,0,g1\nb.png,b_m.png,1,g1\nc.png,c_m.png,1,g2\n"
    )
    ds = load_manifest(tmp_path / "m.csv")
    assert [i.label for i in ds.items] == [0, 1, 1]
    assert ds.items[1].mask == (tmp_path / "b_m.png").resolve()
    assert ds.items[2].mask is None and "60x30" in (ds.items[2].mask_error or "")
    assert len(ds.errors) == 1 and ds.errors[0][0] == "c"
    rows = [
        {"image": "a.png", "label": 0},
        {"image": "b.png", "mask": "b_m.png", "id": "x", "params": {"k": 1}},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ds2 = load_dataset(tmp_path / "m.jsonl")
    assert ds2.items[1].id == "x" and ds2.items[1].label == 1  # label inferred from a non-empty mask
    assert ds2.items[1].meta["params"] == {"k": 1}


def test_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        load_manifest(tmp_path / "none.csv")
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(DatasetError, match="line 1"):
        load_manifest(tmp_path / "bad.jsonl")
    _img(tmp_path / "a.png")
    (tmp_path / "lab.csv").write_text("image,label\na.png,maybe\n")
    with pytest.raises(DatasetError, match="label"):
        load_manifest(tmp_path / "lab.csv")
    (tmp_path / "missing.csv").write_text("image,label\nzzz.png,1\n")
    ds = load_manifest(tmp_path / "missing.csv")
    assert not ds.items and "not found" in ds.errors[0][1]


def test_orientation_aware_mask_check(tmp_path: Path) -> None:
    # stored 40x60 with orientation 6 -> displayed 60 wide... i.e. 60 high x 40 wide
    _img(tmp_path / "r.jpg", 40, 60, orientation=6)
    _mask(tmp_path / "ok.png", 60, 40, (5, 15, 10, 30))
    _mask(tmp_path / "stored.png", 40, 60)
    (tmp_path / "m.csv").write_text("image,mask,label\nr.jpg,ok.png,1\nr.jpg,stored.png,1\n")
    ds = load_manifest(tmp_path / "m.csv")
    assert ds.items[0].mask is not None
    assert ds.items[1].mask is None and "transposed" in (ds.items[1].mask_error or "")
    with pytest.raises(MaskMismatchError):
        load_mask(tmp_path / "stored.png", (60, 40))
    assert load_mask(tmp_path / "ok.png", (60, 40)).sum() == 200


def test_folder_layout(tmp_path: Path) -> None:
    (tmp_path / "authentic").mkdir()
    (tmp_path / "tampered").mkdir()
    (tmp_path / "masks").mkdir()
    _img(tmp_path / "authentic" / "a1.png")
    _img(tmp_path / "tampered" / "t1.png")
    _img(tmp_path / "tampered" / "t2.png")
    _mask(tmp_path / "masks" / "t1_gt.png")
    ds = load_dataset(tmp_path)
    assert ds.kind == "folder"
    by = {i.id: i for i in ds.items}
    assert by["authentic/a1"].label == 0
    assert by["tampered/t1"].mask is not None and by["tampered/t2"].mask is None
    with pytest.raises(DatasetError):
        load_folder(tmp_path / "authentic" / "nothing")


def test_coverage_and_casia_layouts(tmp_path: Path) -> None:
    cov = tmp_path / "cov"
    (cov / "image").mkdir(parents=True)
    (cov / "mask").mkdir()
    for n in (1, 2):
        _img(cov / "image" / f"{n}.png")
        _img(cov / "image" / f"{n}t.png")
        _mask(cov / "mask" / f"{n}copy.png")
        _mask(cov / "mask" / f"{n}forged.png", 40, 60 if n == 1 else 70)
    assert detect_kind(cov) == "coverage"
    ds = load_coverage(cov)
    assert [(i.id, i.label) for i in ds.items] == [("1", 0), ("1t", 1), ("2", 0), ("2t", 1)]
    assert ds.items[1].mask is not None and ds.items[1].source_mask is not None
    assert ds.items[3].mask is None and ds.errors == [("2t", ds.items[3].mask_error)]
    with pytest.raises(DatasetError):
        load_coverage(cov, mask_variant="both")
    cas = tmp_path / "casia"
    cas.mkdir()
    _img(cas / "Tp_S_x.tif", fmt="TIFF")
    _mask(cas / "Tp_S_x_gt.png")
    _img(cas / "Au_y.jpg", fmt="JPEG")
    assert detect_kind(cas) == "casia"
    ds = load_casia(cas)
    assert {(i.id, i.label, i.mask is not None) for i in ds.items} == {
        ("Tp_S_x", 1, True),
        ("Au_y", 0, False),
    }


def test_limit_alternates_labels(tmp_path: Path) -> None:
    from pixelsleuth.bench.datasets import Item

    items = [Item(str(i), tmp_path, 1) for i in range(5)] + [Item(f"n{i}", tmp_path, 0) for i in range(5)]
    got = limit_items(items, 4)
    assert [i.label for i in got] == [0, 1, 0, 1]


@pytest.mark.skipif(not COVERAGE.is_dir(), reason="shared COVERAGE data not present")
def test_real_coverage_reports_documented_mismatches() -> None:
    ds = load_coverage(COVERAGE)
    assert ds.n_pos == 100 and ds.n_neg == 100
    bad = sorted(int(i.rstrip("t")) for i, _ in ds.errors)
    assert bad == [41, 48, 55, 56, 57, 58, 59, 61, 95]
