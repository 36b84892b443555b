"""Descriptor kinds: an index keeps the kind it was built with; unknown kinds fail clearly; the trained descriptor
(when shipped) is invariant to copy edits and tells different images apart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from pixelsleuth.errors import PixelsleuthError
from pixelsleuth.provenance import descriptors as D
from pixelsleuth.provenance.index import ReferenceIndex, compute_signals
from pixelsleuth.provenance.search import search
from test_provenance_helpers import jpeg, textured


def test_handmade_index_stays_handmade(tmp_path: Path) -> None:
    ix = ReferenceIndex.create(tmp_path / "ix", descriptor_kind=D.KIND_HANDMADE)
    rid = ix.add(textured(1), "a.png", "sha-a")
    ix.add(textured(2), "b.png", "sha-b")
    ix.close()
    ix = ReferenceIndex.open(tmp_path / "ix")
    assert ix.descriptor_kind == D.KIND_HANDMADE
    res = search(ix, jpeg(textured(1), 70))
    assert res.matches and res.matches[0].ref.id == rid
    assert res.matches[0].descriptor_similarity is not None and res.matches[0].descriptor_similarity > 0.9
    ix.close()


def test_signals_of_another_kind_are_refused(tmp_path: Path) -> None:
    ix = ReferenceIndex.create(tmp_path / "ix", descriptor_kind=D.KIND_HANDMADE)
    s = compute_signals(textured(3), thumbnail=False, descriptor_kind=D.KIND_HANDMADE)
    s.descriptor_kind = "other-v9"
    with pytest.raises(PixelsleuthError, match="other-v9"):
        ix.add_signals(s, "c.png", "sha-c")
    ix.close()


def test_unknown_kind_fails_clearly_and_search_still_works(tmp_path: Path) -> None:
    ix = ReferenceIndex.create(tmp_path / "ix", descriptor_kind=D.KIND_HANDMADE)
    rid = ix.add(textured(4), "d.png", "sha-d")
    ix.close()
    db = sqlite3.connect(str(tmp_path / "ix" / "refs.sqlite"))
    db.execute("UPDATE meta SET value='future-v7' WHERE key='descriptor_kind'")
    db.commit()
    db.close()
    ix = ReferenceIndex.open(tmp_path / "ix", writable=True)
    assert not ix.descriptor_available
    with pytest.raises(PixelsleuthError, match="future-v7"):
        ix.add(textured(5), "e.png", "sha-e")
    res = search(ix, jpeg(textured(4), 80))  # hashes and local features still find it
    assert res.matches and res.matches[0].ref.id == rid
    assert res.matches[0].descriptor_similarity is None
    ix.close()


def test_create_with_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PixelsleuthError, match="not available"):
        ReferenceIndex.create(tmp_path / "ix", descriptor_kind="nope-v1")
    assert not (tmp_path / "ix" / "refs.sqlite").exists()


@pytest.mark.skipif(D.KIND_TRAINED not in D.available_kinds(), reason="trained descriptor not shipped")
def test_trained_descriptor_invariance_and_discrimination() -> None:
    import cv2

    imgs = [textured(10 + i) for i in range(6)]
    refs = np.stack([D.global_descriptor(im, D.KIND_TRAINED) for im in imgs])
    assert refs.shape == (6, D.DESC_DIM) and np.allclose(np.linalg.norm(refs, axis=1), 1.0, atol=1e-4)
    for i, im in enumerate(imgs):
        h, w = im.shape[:2]
        edits = [
            jpeg(im, 50),
            cv2.resize(im, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
            np.ascontiguousarray(im[:, ::-1]),
            np.ascontiguousarray(im[h // 10 : h - h // 10, w // 10 : w - w // 10]),
        ]
        for e in edits:
            q = D.global_descriptor(e, D.KIND_TRAINED)
            sims = refs @ q
            assert int(np.argmax(sims)) == i
    assert D.descriptor_kind() == D.KIND_TRAINED


def test_mirrored_copy_verified_without_local_voting(tmp_path: Path) -> None:
    """Large indexes switch local-feature voting off; a mirrored copy must still be verified (mirrored)."""
    ix = ReferenceIndex.create(tmp_path / "ix")
    rid = ix.add(textured(21), "m.png", "sha-m")
    for s in (22, 23, 24):
        ix.add(textured(s), f"{s}.png", f"sha-{s}")
    ix.ann.local_enabled = False
    q = jpeg(np.ascontiguousarray(textured(21)[:, ::-1]), 80)
    res = search(ix, q)
    assert res.matches and res.matches[0].ref.id == rid
    assert res.matches[0].mirrored and res.matches[0].copy_probability >= 0.5
    ix.close()
