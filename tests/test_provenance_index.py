from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from pixelsleuth.errors import ReferenceIndexError
from pixelsleuth.provenance import open_index
from pixelsleuth.provenance.index import ReferenceIndex, compute_signals
from pixelsleuth.provenance.search import search
from test_provenance_helpers import textured


def _add(ix: ReferenceIndex, seed: int, tags: tuple[str, ...] = ()) -> int:
    return ix.add(textured(seed), f"mem://{seed}", f"sha{seed}", tags)


def test_create_add_remove_reopen(tmp_path: Path) -> None:
    d = tmp_path / "ix"
    with ReferenceIndex.create(d) as ix:
        ids = [_add(ix, s, ("bank-a",)) for s in range(4)]
        assert ids == sorted(ids) and len(set(ids)) == 4
        assert _add(ix, 0) == ids[0]  # same sha256 -> existing id
        assert ix.remove([ids[1]]) == 1
        assert ix.remove([9999]) == 0
        st = ix.stats()
        assert st["references"] == 3 and st["tags"] == {"bank-a": 3}
        ix.save_snapshot()
    with pytest.raises(ReferenceIndexError):
        ReferenceIndex.create(d)
    with open_index(d) as ro:
        assert len(ro) == 3 and ro.ann.n == 3
        assert ro.get(ids[1]) is None and ro.get(ids[2]).uri == "mem://2"
        assert ro.thumbnail(ids[0]).shape[2] == 3
        with pytest.raises(ReferenceIndexError):
            ro.remove([ids[0]])
        res = search(ro, textured(2), top_k=2, localize=False)
        assert res.best is not None and res.best.ref.id == ids[2] and res.best.confirmed
        res = search(ro, textured(1), top_k=2, localize=False)  # removed reference is not found
        assert all(m.ref.id != ids[1] for m in res.matches)
        assert not (res.best and res.best.confirmed)


def test_not_an_index_and_single_writer(tmp_path: Path) -> None:
    with pytest.raises(ReferenceIndexError, match="not a reference index"):
        ReferenceIndex.open(tmp_path)
    ix = ReferenceIndex.create(tmp_path / "ix")
    try:
        with pytest.raises(ReferenceIndexError, match="another process"):
            ReferenceIndex.open(tmp_path / "ix", writable=True)
    finally:
        ix.close()


def test_replay_without_snapshot_and_compact(tmp_path: Path) -> None:
    d = tmp_path / "ix"
    with ReferenceIndex.create(d) as ix:
        ids = [_add(ix, s) for s in range(3)]
        ix.save_snapshot()
        extra = _add(ix, 10)  # committed after the snapshot: must come back by replay
        ix.remove([ids[0]])
    with open_index(d) as ro:
        assert ro.ann.n == 3
        assert search(ro, textured(10), localize=False).best.ref.id == extra
    with ReferenceIndex.open(d, writable=True) as ix:
        st = ix.compact()
        assert st["references"] == 3 and st["pending_changes"] == 0
    # a damaged snapshot is rebuilt from SQLite
    cur = (d / "CURRENT").read_text().strip()
    (d / cur / "pdq.fbin").write_bytes(b"garbage")
    with open_index(d) as ro:
        assert ro.ann.n == 3


def test_hash_only_reference(tmp_path: Path) -> None:
    img = textured(20)
    with ReferenceIndex.create(tmp_path / "ix") as ix:
        _add(ix, 21)
        rid = ix.add_hash(compute_signals(img, thumbnail=False).pdq.hex, "list.csv:1", 100, ["imported"])
        res = search(ix, img, localize=False)
        assert res.best.ref.id == rid and res.best.confirmed and res.best.pdq_distance <= 10


def test_concurrent_reader_sees_new_commits(tmp_path: Path) -> None:
    d = tmp_path / "ix"
    w = ReferenceIndex.create(d)
    try:
        _add(w, 30)
        reader = open_index(d)
        try:
            assert reader.ann.n == 1
            new = _add(w, 31)  # writer adds while the reader is open
            res = search(reader, textured(31), localize=False)  # search refreshes
            assert res.best.ref.id == new and reader.ann.n == 2
        finally:
            reader.close()
    finally:
        w.close()


_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_provenance_helpers import textured
    from pixelsleuth.provenance.index import ReferenceIndex
    ix = ReferenceIndex.open({d!r}, writable=True)
    for s in range(100, 400):
        rid = ix.add(textured(s, 160, 200), f"mem://{{s}}", f"sha{{s}}")
        print(rid, s, flush=True)  # reported only after the commit
        if s % 3 == 0:
            ix.save_snapshot()
    """
)


def test_kill9_during_add_keeps_committed(tmp_path: Path) -> None:
    d = tmp_path / "ix"
    ReferenceIndex.create(d).close()
    code = _WRITER.format(tests=str(Path(__file__).parent), d=str(d))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    reported: list[tuple[int, int]] = []
    assert p.stdout is not None
    t0 = time.time()
    while len(reported) < 12 and time.time() - t0 < 60:
        line = p.stdout.readline()
        if not line:
            break
        rid, seed = line.split()
        reported.append((int(rid), int(seed)))
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert len(reported) >= 5
    with open_index(d) as ro:
        ids = {r.id for r in ro.references()}
        assert {rid for rid, _ in reported} <= ids
        assert ro.ann.n == len(ids)
        rid, seed = reported[-1]
        assert search(ro, textured(seed, 160, 200), localize=False).best.ref.id == rid
    # and the index is still writable afterwards (the lock died with the process)
    with ReferenceIndex.open(d, writable=True) as ix:
        assert _add(ix, 999) > max(ids)
        assert np.isfinite(ix.stats()["bytes_total"])


def test_reader_survives_compaction_of_the_log(tmp_path: Path) -> None:
    d = tmp_path / "ix"
    w = ReferenceIndex.create(d)
    try:
        a = _add(w, 40)
        w.save_snapshot()
        reader = open_index(d)
        try:
            b = _add(w, 41)
            w.remove([a])
            w.compact()  # trims the change log the reader has not seen yet
            c = _add(w, 42)
            res = search(reader, textured(41), localize=False)
            assert res.best.ref.id == b
            assert reader.ann.n == 2 and search(reader, textured(42), localize=False).best.ref.id == c
            assert all(m.ref.id != a for m in search(reader, textured(40), localize=False).matches)
        finally:
            reader.close()
    finally:
        w.close()


def test_large_index_structures_round_trip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The inverted-file structures used above the exact-search sizes: add, search, remove, snapshot, reopen."""
    import faiss

    import pixelsleuth.provenance.index as I

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 128)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for kind, cls in (("ivfpq", faiss.IndexIVFPQ), ("ivfsq8", faiss.IndexIVFScalarQuantizer)):
        ivf = I.new_descriptor_index(128, x, n_expected=30_000, kind=kind)
        assert isinstance(ivf, cls)
        ivf.nprobe = 64
        ivf.add_with_ids(x, np.arange(10, 4010, dtype=np.int64))
        _, ids = ivf.search(x[:50], 1)
        assert np.mean(ids[:, 0] == np.arange(10, 60)) > 0.9, kind
        assert ivf.remove_ids(faiss.IDSelectorBatch(np.array([10, 11], np.int64))) == 2
    # an index that grows past the local-feature threshold switches to a binary IVF at its next snapshot
    monkeypatch.setattr(I, "LOCAL_IVF_MIN", 2000)
    d = tmp_path / "ix"
    with ReferenceIndex.create(d) as ix:
        for s in range(6):
            _add(ix, s)
        ix.save_snapshot()
        assert isinstance(ix.ann.local, faiss.IndexBinaryIVF)
    with open_index(d) as ro:
        assert isinstance(ro.ann.local, faiss.IndexBinaryIVF) and ro.ann.local_n == ro.ann.local.ntotal
        assert search(ro, textured(4), localize=False).best.ref.uri == "mem://4"


def test_multihash_pdq_index_and_removal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import faiss

    import pixelsleuth.provenance.index as I

    monkeypatch.setattr(I, "PDQ_MULTIHASH_MIN", 3)
    d = tmp_path / "ix"
    with ReferenceIndex.create(d) as ix:
        ids = [_add(ix, s) for s in range(4)]
        ix.compact()
        assert isinstance(faiss.downcast_IndexBinary(ix.ann.pdq.index), faiss.IndexBinaryMultiHash)
        ix.remove([ids[1]])  # cannot be deleted from the hash tables: filtered at search time
        res = search(ix, textured(1), localize=False)
        assert all(m.ref.id != ids[1] for m in res.matches)
        assert search(ix, textured(2), localize=False).best.ref.id == ids[2]
    with open_index(d) as ro:
        assert search(ro, textured(3), localize=False).best.ref.id == ids[3]
