"""Scale of the ANN part at 1,000,000 references (synthetic vectors for the bulk; stated in the report).

    python benchmarks/copy_scale.py --n 1000000 --queries 1000 --out /tmp/copy_scale.json

Descriptors: 128-D vectors drawn from a Gaussian fitted (mean + full covariance) to the real descriptors of the
benchmark photos, L2-normalised; queries are 1,000 of the stored vectors plus noise whose size is taken from real
copy pairs (the median descriptor distance between a transformed query and its original in copy_isc). PDQ: random
256-bit codes; queries flip 8-31 bits (31 = the usual PDQ match threshold). Reports build rate, bytes per reference of the serialised ANN indexes, search
p50/p99 on one thread, and recall@1 of the ANN vs exact search on the same queries.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import copy_common as C  # noqa: E402

from pixelsleuth.provenance import descriptors as D  # noqa: E402
from pixelsleuth.provenance.index import new_descriptor_index  # noqa: E402

faiss.omp_set_num_threads(1)


def real_descriptors(n_max: int = 1500) -> tuple[np.ndarray, float]:
    lists = C.data_lists()
    files = (lists["A_references"] + lists["B_noncopy_sources"])[:n_max]
    vec = np.stack([D.global_descriptor(C.load(f)) for f in files])
    # real copy noise: descriptor distance of transformed copies to their original
    rng = np.random.default_rng(0)
    d = []
    for f in files[:200]:
        im = C.load(f)
        q, _ = C.make_query(im, rng)
        d.append(float(np.linalg.norm(D.global_descriptor(q) - D.global_descriptor(im))))
    return vec, float(np.median(d))


def serialized_bytes(index: object, binary: bool = False) -> int:
    buf = faiss.serialize_index_binary(index) if binary else faiss.serialize_index(index)
    return int(buf.size)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--nprobe", type=int, nargs="*", default=[64, 256, 512, 1024])
    ap.add_argument("--out", type=Path, default=Path("/tmp/copy_scale.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    real, noise_med = real_descriptors()
    mu = real.mean(0)
    cov = np.cov(real - mu, rowvar=False) + 1e-6 * np.eye(real.shape[1])
    chol = np.linalg.cholesky(cov)
    x = np.empty((args.n, real.shape[1]), np.float32)
    for i in range(0, args.n, 100_000):
        z = rng.standard_normal((min(100_000, args.n - i), real.shape[1])) @ chol.T + mu
        x[i : i + len(z)] = z / np.linalg.norm(z, axis=1, keepdims=True)
    qi = rng.choice(args.n, args.queries, replace=False)
    per_dim = noise_med / np.sqrt(x.shape[1])
    q = x[qi] + rng.standard_normal((args.queries, x.shape[1])).astype(np.float32) * per_dim
    q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    out: dict = {
        "command": " ".join(sys.argv),
        "n": args.n,
        "real_copy_noise_median_l2": noise_med,
        "data_gen_s": time.perf_counter() - t0,
    }

    # exact reference
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    _, ex = flat.search(q, 1)
    exact_r1 = float(np.mean(ex[:, 0] == qi))
    tt = []
    for v in q[:100]:
        t = time.perf_counter()
        flat.search(v[None], 1)
        tt.append(time.perf_counter() - t)
    out["exact_flat"] = {
        "recall@1": exact_r1,
        "ms_p50": 1000 * float(np.median(tt)),
        "bytes_per_ref": 4 * x.shape[1],
    }
    del flat

    # the inverted-file structures the index builds at this size (IVF-SQ8 is the default, IVF-PQ for comparison)
    train = x[rng.choice(args.n, 200_000, replace=False)]
    for kind in ("ivfsq8", "ivfpq"):
        t = time.perf_counter()
        ivf = new_descriptor_index(x.shape[1], train, args.n, kind=kind)
        train_s = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(0, args.n, 100_000):
            ivf.add_with_ids(x[i : i + 100_000], np.arange(i, min(args.n, i + 100_000), dtype=np.int64))
        add_s = time.perf_counter() - t
        res = {
            "type": type(ivf).__name__,
            "nlist": int(ivf.nlist),
            "train_s": train_s,
            "add_s": add_s,
            "build_refs_per_s": args.n / add_s,
            "bytes_per_ref": serialized_bytes(ivf) / args.n,
            "by_nprobe": {},
        }
        for npb in args.nprobe:
            ivf.nprobe = npb
            _, ids = ivf.search(q, 1)
            r1 = float(np.mean(ids[:, 0] == qi))
            tt = []
            for v in q:
                t = time.perf_counter()
                ivf.search(v[None], 10)
                tt.append(time.perf_counter() - t)
            res["by_nprobe"][npb] = {
                "recall@1": r1,
                "ms_p50": 1000 * float(np.median(tt)),
                "ms_p99": 1000 * float(np.percentile(tt, 99)),
            }
            print(kind, npb, res["by_nprobe"][npb], flush=True)
        out[kind] = res
        del ivf
    del x

    # PDQ: 256-bit codes; queries flip 8-31 bits (31 = the usual PDQ match threshold); 8 dihedral probes per query
    codes = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    qq = codes[qi[:300]].copy()
    bits = np.unpackbits(qq, axis=1)
    for row in bits:
        row[rng.choice(256, int(rng.integers(8, 32)), replace=False)] ^= 1
    qq = np.packbits(bits, axis=1)
    for name, make in (
        ("pdq_binary_flat", lambda: faiss.IndexBinaryFlat(256)),
        ("pdq_multihash_16x16", lambda: faiss.IndexBinaryMultiHash(256, 16, 16)),
    ):
        t = time.perf_counter()
        idx = make()
        idx.add(codes)
        add_s = time.perf_counter() - t
        tt = []
        hits = 0
        for j, v in enumerate(qq):
            probe = np.repeat(v[None], 8, axis=0)
            t = time.perf_counter()
            _, ids = idx.search(probe, 1)
            tt.append(time.perf_counter() - t)
            hits += int(ids[0, 0] == qi[j])
        out[name] = {
            "add_s": add_s,
            "bytes_per_ref": serialized_bytes(idx, True) / args.n,
            "recall@1": hits / len(qq),
            "ms_p50_8probes": 1000 * float(np.median(tt)),
            "ms_p99_8probes": 1000 * float(np.percentile(tt, 99)),
        }
        print(name, out[name], flush=True)
        del idx
    out["wall_s"] = time.perf_counter() - t0
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
