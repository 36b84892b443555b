"""The reference index: one directory holding

* ``refs.sqlite`` (WAL): the source of truth. One row per reference (id, source URI, sha256, tags/banks, time
  added, size, PDQ + quality, DCT hash, global descriptor, ORB features) and an optional small reference
  thumbnail (for aligned comparison), plus a ``changes`` log (seq, op, ref id).
* ``snap-<seq>/``: FAISS snapshots derived from SQLite (PDQ binary index, descriptor index: flat inner product
  when small, IVF-PQ when large; local-feature binary index for candidate voting) that include every change up to
  ``seq``; ``CURRENT`` names the live snapshot. Snapshots are written to a temporary directory and published by an
  atomic rename of ``CURRENT``, so a crash leaves the previous snapshot intact.

Opening replays the changes logged after the snapshot, so a reference reported as committed (its SQLite
transaction finished) is always searchable, even after ``kill -9`` in the middle of an add. Writers take an
exclusive lock file; readers never block and can :meth:`ReferenceIndex.refresh` to see new commits.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import faiss
import numpy as np

from pixelsleuth.errors import ReferenceIndexError
from pixelsleuth.provenance import descriptors as D
from pixelsleuth.provenance import hashing as H

FORMAT_VERSION = 1
IVF_MIN_REFS = 20_000  # below this the descriptor index is exact (flat); above, IVF-PQ
LOCAL_VOTE_MAX = 4_000_000  # local-feature candidate voting is kept while the store holds at most this many
KP_PER_REF_ID = 1 << 12  # local ids = ref_id * 4096 + keypoint index
THUMB_MAX_SIDE = 1024
PDQ_MULTIHASH_MIN = (
    100_000  # PDQ index switches from exhaustive to multi-index hashing (16 x 16-bit) above this
)
LOCAL_IVF_MIN = 100_000  # local-feature store switches to a binary IVF (approximate votes) above this many

# FAISS's OpenMP threads oversubscribe small shared machines badly (20x slower single queries under load);
# one thread per query is the default, raise it with PIXELSLEUTH_FAISS_THREADS for batch work on a big box.
faiss.omp_set_num_threads(int(os.environ.get("PIXELSLEUTH_FAISS_THREADS", "1")))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uri TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  added REAL NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  pdq BLOB,
  pdq_quality INTEGER,
  phash BLOB,
  descriptor BLOB,
  kp_xy BLOB,
  kp_desc BLOB
);
CREATE INDEX IF NOT EXISTS refs_sha ON refs(sha256);
CREATE TABLE IF NOT EXISTS thumbs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, ref_id INTEGER NOT NULL);
"""


@dataclass
class Reference:
    id: int
    uri: str
    sha256: str
    tags: list[str]
    added: float
    width: int
    height: int
    pdq: bytes | None = None
    pdq_quality: int | None = None
    phash: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri,
            "sha256": self.sha256,
            "tags": self.tags,
            "added": self.added,
            "width": self.width,
            "height": self.height,
            "pdq": self.pdq.hex() if self.pdq else None,
            "pdq_quality": self.pdq_quality,
        }


@dataclass
class RefSignals:
    """Everything computed from one reference image (pure function of the pixels)."""

    width: int
    height: int
    pdq: H.PdqHash
    phash: bytes
    descriptor: np.ndarray
    local: D.LocalFeatures
    thumb: bytes | None = None
    descriptor_kind: str = D.KIND_HANDMADE


def compute_signals(
    rgb: np.ndarray, thumbnail: bool = True, descriptor_kind: str | None = None
) -> RefSignals:
    """All signals of one reference; the global descriptor is of ``descriptor_kind`` (default: the kind new
    indexes get, :func:`pixelsleuth.provenance.descriptors.descriptor_kind`)."""
    kind = descriptor_kind or D.descriptor_kind()
    h, w = rgb.shape[:2]
    thumb = None
    if thumbnail:
        small = rgb
        s = min(1.0, THUMB_MAX_SIDE / max(h, w))
        if s < 1.0:
            small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        ok, enc = cv2.imencode(
            ".webp",
            cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_WEBP_QUALITY, 95],
        )
        if not ok:  # pragma: no cover
            raise ReferenceIndexError("could not encode a reference thumbnail")
        thumb = enc.tobytes()
    return RefSignals(
        w,
        h,
        H.pdq(rgb),
        H.dct_phash(rgb),
        D.global_descriptor(rgb, kind),
        D.local_features(rgb, D.REF_KEYPOINTS),
        thumb,
        kind,
    )


@dataclass
class _Ann:
    """The in-memory FAISS side, rebuilt or replayed from SQLite."""

    dim: int
    pdq: Any = None
    desc: Any = None
    local: Any = None
    seq: int = 0
    n: int = 0
    local_n: int = 0
    local_enabled: bool = True
    kinds: dict[str, str] = field(default_factory=dict)


def _new_pdq_index(n_expected: int = 0) -> Any:
    """Exhaustive Hamming search for small sets; multi-index hashing (16 tables of 16-bit substrings, exact
    substring matches) for large ones: 0.7 ms instead of 56 ms at 1 M references, recall@1 0.987 for 8-31 flipped
    bits (benchmarks/copy_scale.py). Multi-hash cannot delete: removed ids stay until the next compaction and are
    dropped at search time (their SQLite row is gone)."""
    if n_expected >= PDQ_MULTIHASH_MIN:
        return faiss.IndexBinaryIDMap2(faiss.IndexBinaryMultiHash(H.PDQ_BITS, 16, 16))
    return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(H.PDQ_BITS))


def _new_local_index() -> Any:
    return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(D.ORB_BYTES * 8))


def new_local_index(train: np.ndarray | None = None) -> Any:
    """Exact binary index for a small local-feature store; binary IVF when large (``train`` given)."""
    if train is None or len(train) < LOCAL_IVF_MIN:
        return _new_local_index()
    nlist = int(min(16384, max(256, 2 * np.sqrt(len(train)))))
    ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(D.ORB_BYTES * 8), D.ORB_BYTES * 8, nlist)
    ivf.train(np.ascontiguousarray(train[: nlist * 60]))
    ivf.nprobe = 8
    return ivf


def new_descriptor_index(
    dim: int, train: np.ndarray | None = None, n_expected: int = 0, kind: str = "ivfpq"
) -> Any:
    """Exact inner-product index for small sets; for large ones (``train`` given) an inverted file with product
    quantisation (``ivfpq``, the default: 32-byte codes, 42 B/ref; at 1 M references recall@1 0.991 vs exact 1.0
    with nprobe 512, p50 11.6 ms on one thread) or 8-bit scalar quantisation (``ivfsq8``: 138 B/ref, recall 0.997);
    see docs/bench/copy_detection.md."""
    if train is None or max(n_expected, len(train)) < IVF_MIN_REFS:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    nlist = int(min(8192, max(64, 4 * np.sqrt(max(n_expected, len(train))))))
    q = faiss.IndexFlatIP(dim)
    if kind == "ivfpq":
        ivf = faiss.IndexIVFPQ(q, dim, nlist, 32, 8, faiss.METRIC_INNER_PRODUCT)
    else:
        ivf = faiss.IndexIVFScalarQuantizer(
            q, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    ivf.train(np.ascontiguousarray(train[: max(nlist * 30, 50_000)], dtype=np.float32))
    ivf.nprobe = min(nlist, 512)
    return ivf


class ReferenceIndex:
    """A reference index directory. Use :meth:`create` or :meth:`open`; close (or use as a context manager)."""

    def __init__(self, path: Path, writable: bool) -> None:
        self.path = Path(path)
        self.writable = writable
        self._lock_fh: Any = None
        db = self.path / "refs.sqlite"
        if not db.exists():
            raise ReferenceIndexError(
                f"{self.path} is not a reference index (no refs.sqlite); create it with "
                "`pixelsleuth index create DIR`"
            )
        if writable:
            self._lock_fh = open(self.path / "write.lock", "a+")  # noqa: SIM115 - held for the object's life
            try:
                fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as e:
                self._lock_fh.close()
                raise ReferenceIndexError(
                    f"{self.path} is being written by another process; try again later"
                ) from e
        self.db = sqlite3.connect(str(db), timeout=30.0, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL" if not writable else "PRAGMA synchronous=FULL")
        ver = self._meta("format_version")
        if ver is None or int(ver) != FORMAT_VERSION:
            raise ReferenceIndexError(
                f"{self.path}: unsupported index format {ver!r} (expected {FORMAT_VERSION})"
            )
        self.descriptor_kind = self._meta("descriptor_kind") or D.KIND_HANDMADE
        self.dim = int(self._meta("descriptor_dim") or D.DESC_DIM)
        self.ann = self._load_snapshot()
        self.refresh()

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls, path: str | Path, exist_ok: bool = False, descriptor_kind: str | None = None
    ) -> ReferenceIndex:
        """A new, empty index in ``path``. ``descriptor_kind``: the global descriptor it is built with (default:
        the trained descriptor when this installation has it, else the hand-built one)."""
        p = Path(path)
        kind = descriptor_kind or D.descriptor_kind()
        if kind not in D.available_kinds():
            raise ReferenceIndexError(
                f"descriptor {kind!r} is not available here (choose from {', '.join(D.available_kinds())})"
            )
        if (p / "refs.sqlite").exists():
            if not exist_ok:
                raise ReferenceIndexError(f"{p} already holds a reference index")
            return cls(p, writable=True)
        p.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(p / "refs.sqlite"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        for k, v in (
            ("format_version", str(FORMAT_VERSION)),
            ("descriptor_kind", kind),
            ("descriptor_dim", str(D.DESC_DIM)),
            ("created", str(time.time())),
        ):
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, v))
        db.execute("COMMIT")
        db.close()
        return cls(p, writable=True)

    @classmethod
    def open(cls, path: str | Path, writable: bool = False) -> ReferenceIndex:
        return cls(Path(path), writable=writable)

    def __enter__(self) -> ReferenceIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
            self.db = None  # type: ignore[assignment]
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _require_writable(self) -> None:
        if not self.writable:
            raise ReferenceIndexError("this index was opened read-only")

    @property
    def descriptor_available(self) -> bool:
        """Whether this installation computes the descriptor kind the index was built with."""
        return self.descriptor_kind in D.available_kinds()

    def _require_descriptor(self) -> None:
        if not self.descriptor_available:
            raise ReferenceIndexError(
                f"{self.path} was built with the {self.descriptor_kind!r} descriptor, which this installation cannot "
                f"compute (it has {', '.join(D.available_kinds())}); build a new index (pixelsleuth index create) "
                "and add the images again"
            )

    # ------------------------------------------------------------------ FAISS side
    def _empty_ann(self) -> _Ann:
        return _Ann(self.dim, _new_pdq_index(), new_descriptor_index(self.dim), _new_local_index())

    def _load_snapshot(self) -> _Ann:
        cur = self.path / "CURRENT"
        if cur.exists():
            snap = self.path / cur.read_text().strip()
            try:
                meta = json.loads((snap / "meta.json").read_text())
                ann = _Ann(
                    self.dim,
                    faiss.read_index_binary(str(snap / "pdq.fbin")),
                    faiss.read_index(str(snap / "desc.faiss")),
                    faiss.read_index_binary(str(snap / "local.fbin")),
                    seq=int(meta["seq"]),
                    n=int(meta["n"]),
                    local_n=int(meta["local_n"]),
                    local_enabled=bool(meta["local_enabled"]),
                    kinds=meta.get("kinds", {}),
                )
                if isinstance(ann.desc, faiss.IndexIVF):
                    ann.desc.nprobe = int(meta.get("nprobe", 512))
                if isinstance(ann.local, faiss.IndexBinaryIVF):
                    ann.local.nprobe = int(meta.get("local_nprobe", 8))
                return ann
            except Exception:  # noqa: BLE001 - a damaged snapshot is rebuilt from SQLite
                pass
        if self.db.execute("SELECT 1 FROM refs LIMIT 1").fetchone() is None:
            ann = self._empty_ann()
            ann.seq = self._max_seq()
            return ann
        return self._rebuild()

    def _max_seq(self) -> int:
        row = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()
        return int(row[0])

    def refresh(self) -> int:
        """Apply changes committed since the in-memory state; returns how many were applied."""
        trimmed = int(self._meta("changes_trimmed_before") or 0)
        if (
            self.ann.seq < trimmed - 1
        ):  # a compaction dropped log entries we never saw: reload from the snapshot
            self.ann = self._load_snapshot()
        rows = self.db.execute(
            "SELECT seq, op, ref_id FROM changes WHERE seq > ? ORDER BY seq", (self.ann.seq,)
        ).fetchall()
        if not rows:
            return 0
        # net effect per ref: the last op wins; removals, then adds in id order
        last: dict[int, str] = {}
        for _, op, rid in rows:
            last[int(rid)] = op
        removed = [r for r, op in last.items() if op == "remove"]  # ids are never reused (AUTOINCREMENT)
        self._ann_remove(removed)
        added = sorted(r for r, op in last.items() if op == "add")
        for chunk in _chunks(added, 2000):
            q = f"SELECT id, pdq, descriptor, kp_desc FROM refs WHERE id IN ({','.join('?' * len(chunk))})"
            self._ann_add(self.db.execute(q, chunk).fetchall())
        self.ann.seq = int(rows[-1][0])
        return len(rows)

    def _ann_remove(self, ids: list[int]) -> None:
        if not ids:
            return
        a = self.ann
        sel = faiss.IDSelectorBatch(np.asarray(ids, np.int64))
        try:
            a.n -= int(a.pdq.remove_ids(sel))
        except RuntimeError:  # multi-hash PDQ index: stale until compaction, filtered at search time
            a.n -= len(ids)
        a.desc.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, np.int64)))
        if a.local_enabled and a.local.ntotal:
            lids = np.concatenate(
                [np.arange(r * KP_PER_REF_ID, (r + 1) * KP_PER_REF_ID, dtype=np.int64) for r in ids]
            )
            a.local_n -= int(a.local.remove_ids(faiss.IDSelectorBatch(lids)))

    def _ann_add(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        a = self.ann
        ids = np.array([r[0] for r in rows], np.int64)
        pdqs = np.stack([np.frombuffer(r[1], np.uint8) for r in rows])
        descs = np.stack([np.frombuffer(r[2], np.float16).astype(np.float32) for r in rows])
        a.pdq.add_with_ids(pdqs, ids)
        a.desc.add_with_ids(descs, ids)
        a.n += len(rows)
        if a.local_enabled:
            kd = [np.frombuffer(r[3], np.uint8).reshape(-1, D.ORB_BYTES) for r in rows]
            total = sum(len(k) for k in kd)
            if a.local_n + total > LOCAL_VOTE_MAX and a.local_enabled:
                a.local_enabled = False
                a.local = _new_local_index()
                a.local_n = 0
            elif total:
                lids = np.concatenate(
                    [
                        r * KP_PER_REF_ID + np.arange(len(k), dtype=np.int64)
                        for r, k in zip(ids, kd, strict=True)
                    ]
                )
                a.local.add_with_ids(np.concatenate(kd), lids)
                a.local_n += total

    def save_snapshot(self) -> None:
        """Write the FAISS side as a new snapshot and publish it atomically."""
        self._require_writable()
        self.refresh()
        a = self.ann
        if (
            a.local_enabled and a.local_n >= LOCAL_IVF_MIN and not isinstance(a.local, faiss.IndexBinaryIVF)
        ) or (a.n >= IVF_MIN_REFS and not isinstance(a.desc, faiss.IndexIVF)):
            self.ann = a = self._rebuild()  # grown past the exact-search sizes: switch to IVF structures
        name = f"snap-{a.seq:012d}"
        tmp = self.path / f".tmp-{name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        faiss.write_index_binary(a.pdq, str(tmp / "pdq.fbin"))
        faiss.write_index(a.desc, str(tmp / "desc.faiss"))
        faiss.write_index_binary(a.local, str(tmp / "local.fbin"))
        meta = {
            "seq": a.seq,
            "n": a.n,
            "local_n": a.local_n,
            "local_enabled": a.local_enabled,
            "nprobe": int(getattr(a.desc, "nprobe", 0)),
            "local_nprobe": int(getattr(a.local, "nprobe", 0)),
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        final = self.path / name
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        cur_tmp = self.path / "CURRENT.tmp"
        cur_tmp.write_text(name)
        with open(cur_tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(cur_tmp, self.path / "CURRENT")
        dfd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        for old in self.path.glob("snap-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        for old in self.path.glob(".tmp-snap-*"):
            shutil.rmtree(old, ignore_errors=True)

    # ------------------------------------------------------------------ writes
    def add(
        self,
        rgb: np.ndarray,
        uri: str,
        sha256: str,
        tags: Iterable[str] = (),
        thumbnail: bool = True,
        skip_duplicates: bool = True,
    ) -> int:
        """Add one reference image; returns its id (the existing id when ``sha256`` is already there)."""
        self._require_descriptor()
        return self.add_signals(
            compute_signals(rgb, thumbnail, self.descriptor_kind), uri, sha256, tags, skip_duplicates
        )

    def add_signals(
        self, s: RefSignals, uri: str, sha256: str, tags: Iterable[str] = (), skip_duplicates: bool = True
    ) -> int:
        self._require_writable()
        self._require_descriptor()
        if s.descriptor_kind != self.descriptor_kind:
            raise ReferenceIndexError(
                f"signals computed with the {s.descriptor_kind!r} descriptor cannot be added to {self.path}, "
                f"which was built with {self.descriptor_kind!r}"
            )
        if skip_duplicates:
            row = self.db.execute("SELECT id FROM refs WHERE sha256=?", (sha256,)).fetchone()
            if row is not None:
                return int(row[0])
        xy, kd = s.local.to_bytes()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute(
                "INSERT INTO refs (uri, sha256, tags, added, width, height, pdq, pdq_quality, phash, descriptor, "
                "kp_xy, kp_desc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    uri,
                    sha256,
                    json.dumps(sorted(set(tags))),
                    time.time(),
                    s.width,
                    s.height,
                    s.pdq.bits,
                    s.pdq.quality,
                    s.phash,
                    s.descriptor.astype(np.float16).tobytes(),
                    xy,
                    kd,
                ),
            )
            rid = int(cur.lastrowid or 0)
            if s.thumb is not None:
                self.db.execute("INSERT INTO thumbs (id, data) VALUES (?, ?)", (rid, s.thumb))
            self.db.execute("INSERT INTO changes (op, ref_id) VALUES ('add', ?)", (rid,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return rid

    def add_hash(self, pdq_hex: str, uri: str, quality: int = 100, tags: Iterable[str] = ()) -> int:
        """Add a hash-only reference (e.g. imported from a PDQ CSV list): matched by PDQ only."""
        self._require_writable()
        bits = H.hex_to_bits(pdq_hex)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute(
                "INSERT INTO refs (uri, sha256, tags, added, width, height, pdq, pdq_quality, phash, descriptor, "
                "kp_xy, kp_desc) VALUES (?,?,?,?,0,0,?,?,NULL,?,?,?)",
                (
                    uri,
                    "",
                    json.dumps(sorted(set(tags))),
                    time.time(),
                    bits,
                    int(quality),
                    np.zeros(self.dim, np.float16).tobytes(),
                    b"",
                    b"",
                ),
            )
            rid = int(cur.lastrowid or 0)
            self.db.execute("INSERT INTO changes (op, ref_id) VALUES ('add', ?)", (rid,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return rid

    def remove(self, ids: Iterable[int]) -> int:
        self._require_writable()
        ids = [int(i) for i in ids]
        n = 0
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for rid in ids:
                c = self.db.execute("DELETE FROM refs WHERE id=?", (rid,)).rowcount
                if c:
                    self.db.execute("DELETE FROM thumbs WHERE id=?", (rid,))
                    self.db.execute("INSERT INTO changes (op, ref_id) VALUES ('remove', ?)", (rid,))
                    n += c
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return n

    def _rebuild(self) -> _Ann:
        """Build the FAISS side from the refs table (flat or IVF by size), consistent with the change log."""
        seq = self._max_seq()
        n = int(self.db.execute("SELECT COUNT(*) FROM refs").fetchone()[0])
        train = None
        if n >= IVF_MIN_REFS:
            rows = self.db.execute("SELECT descriptor FROM refs ORDER BY RANDOM() LIMIT 200000").fetchall()
            train = np.stack([np.frombuffer(r[0], np.float16).astype(np.float32) for r in rows])
        n_local = int(self.db.execute("SELECT COALESCE(SUM(LENGTH(kp_desc)), 0) FROM refs").fetchone()[0])
        n_local //= D.ORB_BYTES
        local_train = None
        if LOCAL_IVF_MIN <= n_local <= LOCAL_VOTE_MAX:
            rows = self.db.execute("SELECT kp_desc FROM refs ORDER BY RANDOM() LIMIT 3000").fetchall()
            local_train = np.concatenate(
                [np.frombuffer(r[0], np.uint8).reshape(-1, D.ORB_BYTES) for r in rows if r[0]]
            )
        old = getattr(self, "ann", None)
        self.ann = _Ann(
            self.dim,
            _new_pdq_index(n),
            new_descriptor_index(self.dim, train, n),
            new_local_index(local_train),
        )
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT id, pdq, descriptor, kp_desc FROM refs WHERE id > ? ORDER BY id LIMIT 5000", (last,)
            ).fetchall()
            if not rows:
                break
            self._ann_add(rows)
            last = int(rows[-1][0])
        self.ann.seq = seq
        ann = self.ann
        if old is not None:
            self.ann = old
        return ann

    def compact(self) -> dict[str, Any]:
        """Rebuild the FAISS side from SQLite (choosing flat or IVF-PQ by size), trim the change log, VACUUM."""
        self._require_writable()
        self.ann = self._rebuild()
        seq = self.ann.seq
        self.save_snapshot()
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('changes_trimmed_before', ?)", (str(seq),))
        self.db.execute("DELETE FROM changes WHERE seq < ?", (seq,))
        self.db.execute("COMMIT")
        self.db.execute("VACUUM")
        return self.stats()

    # ------------------------------------------------------------------ reads
    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM refs").fetchone()[0])

    def get(self, rid: int) -> Reference | None:
        row = self.db.execute(
            "SELECT id, uri, sha256, tags, added, width, height, pdq, pdq_quality, phash FROM refs "
            "WHERE id=?",
            (int(rid),),
        ).fetchone()
        return None if row is None else _ref(row)

    def references(self) -> Iterator[Reference]:
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT id, uri, sha256, tags, added, width, height, pdq, pdq_quality, phash "
                "FROM refs WHERE id > ? ORDER BY id LIMIT 1000",
                (last,),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield _ref(r)
            last = int(rows[-1][0])

    def local_features(self, rid: int) -> D.LocalFeatures | None:
        row = self.db.execute(
            "SELECT kp_xy, kp_desc, width, height FROM refs WHERE id=?", (int(rid),)
        ).fetchone()
        if row is None or not row[1]:
            return None
        return D.LocalFeatures.from_bytes(row[0], row[1], (int(row[3]), int(row[2])))

    def descriptor(self, rid: int) -> np.ndarray | None:
        row = self.db.execute("SELECT descriptor FROM refs WHERE id=?", (int(rid),)).fetchone()
        return None if row is None else np.frombuffer(row[0], np.float16).astype(np.float32)

    def thumbnail(self, rid: int) -> np.ndarray | None:
        """The stored reference pixels (RGB uint8, at most 1024 px on the long side) or None."""
        row = self.db.execute("SELECT data FROM thumbs WHERE id=?", (int(rid),)).fetchone()
        if row is None:
            return None
        bgr = cv2.imdecode(np.frombuffer(row[0], np.uint8), cv2.IMREAD_COLOR)
        return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def stats(self) -> dict[str, Any]:
        n = len(self)
        files = {p.name: p.stat().st_size for p in self.path.rglob("*") if p.is_file()}
        snap = sum(s for k, s in files.items() if k.endswith((".fbin", ".faiss")))
        tags: dict[str, int] = {}
        for (t,) in self.db.execute("SELECT tags FROM refs"):
            for tag in json.loads(t):
                tags[tag] = tags.get(tag, 0) + 1
        return {
            "path": str(self.path),
            "references": n,
            "descriptor_kind": self.descriptor_kind,
            "descriptor_index": type(self.ann.desc).__name__,
            "local_features": int(self.ann.local_n),
            "local_voting": bool(self.ann.local_enabled),
            "pending_changes": self._max_seq() - self.ann.seq,
            "bytes_total": int(sum(files.values())),
            "bytes_ann_snapshot": int(snap),
            "tags": dict(sorted(tags.items())),
        }


def _ref(row: tuple[Any, ...]) -> Reference:
    return Reference(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        list(json.loads(row[3])),
        float(row[4]),
        int(row[5]),
        int(row[6]),
        row[7],
        None if row[8] is None else int(row[8]),
        row[9],
    )


def _chunks(seq: list[int], n: int) -> Iterator[list[int]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]
