"""ISC-2021-style copy-detection benchmark: µAP, recall@1 (+ per transform), recall@1 for 25 %-area crops, side by
side with ImageHash pHash and pdqhash alone, on the same references and queries.

    python benchmarks/copy_isc.py --n-copy 1000 --n-noncopy 1000 --crop25 300 --seed 0 --out /tmp/copy_isc.json

References: split A of the scene photos (530) + 542 distractors (407 AI-generated, 119 camera chart/flat-field/HDR
shots, 16 full originals) = 1,072 (see copy_common.py; lists in
copy_data_lists.json). Copy queries: A images under 1-3 random transforms + final JPEG; non-copy queries: split B
photos (never indexed) under the same kind of transforms. ``--calibrate`` fits the copy_probability logistic on
this run's inlier counts and writes provenance/trained/calibration.json (run it with a seed other than the test's).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import copy_common as C  # noqa: E402

from pixelsleuth.provenance.index import ReferenceIndex, compute_signals  # noqa: E402
from pixelsleuth.provenance.search import search  # noqa: E402


def build_index(
    d: Path, refs: list[str], descriptor: str | None = None
) -> tuple[ReferenceIndex, dict[str, int], float]:
    if (d / "refs.sqlite").exists():
        ix = ReferenceIndex.open(d, writable=True)
        ids = {r.uri: r.id for r in ix.references()}
        if len(ids) == len(refs) and (descriptor is None or ix.descriptor_kind == descriptor):
            return ix, ids, float("nan")
        ix.close()
        import shutil

        shutil.rmtree(d)
    ix = ReferenceIndex.create(d, descriptor_kind=descriptor)
    t0 = time.perf_counter()
    ids = {}
    for i, rel in enumerate(refs):
        s = compute_signals(C.load(rel), thumbnail=False, descriptor_kind=ix.descriptor_kind)
        ids[rel] = ix.add_signals(s, rel, rel)
        if (i + 1) % 200 == 0:
            print(f"  indexed {i + 1}/{len(refs)}", flush=True)
    ix.save_snapshot()
    return ix, ids, (time.perf_counter() - t0) / len(refs)


def phash_bits(a: np.ndarray) -> np.ndarray:
    return imagehash.phash(Image.fromarray(a)).hash.flatten()


def pdq_bits(a: np.ndarray) -> np.ndarray:
    return pdqhash.compute(a)[0].astype(bool)


def baseline_preds(
    qbits: np.ndarray, rbits: np.ndarray, ref_ids: np.ndarray, k: int = 10
) -> list[tuple[int, float]]:
    d = (qbits[None, :] != rbits).sum(1)
    order = np.argsort(d, kind="stable")[:k]
    nb = rbits.shape[1]
    return [(int(ref_ids[j]), 1.0 - d[j] / nb) for j in order]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-copy", type=int, default=1000)
    ap.add_argument("--n-noncopy", type=int, default=1000)
    ap.add_argument("--crop25", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--index-dir", type=Path, default=Path("/tmp/copy_bench/isc_index"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/copy_isc.json"))
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument(
        "--descriptor", default=None, help="mnv2-v1 or dctgrid-v1 (default: what new indexes get)"
    )
    ap.add_argument(
        "--no-local-votes",
        action="store_true",
        help="search without local-feature voting, as the index does above ~10k references: candidates come from "
        "PDQ and the global descriptor only (verification still uses local features)",
    )
    args = ap.parse_args()

    lists = C.data_lists()
    refs = lists["A_references"] + lists["distractors"]
    t0 = time.perf_counter()
    ix, ids, add_s = build_index(args.index_dir, refs, args.descriptor)
    print(f"index: {len(ids)} references ({ix.descriptor_kind}), {add_s:.3f} s/ref to add", flush=True)
    if args.no_local_votes:
        ix.ann.local_enabled = False
    ref_ids = np.array([ids[r] for r in refs])
    rb_ph = rb_pdq = None
    if not args.no_baselines:
        imgs_bits = [(phash_bits(a), pdq_bits(a)) for a in (C.load(r) for r in refs)]
        rb_ph = np.stack([b[0] for b in imgs_bits])
        rb_pdq = np.stack([b[1] for b in imgs_bits])

    queries: list[tuple[str, int | None, str, list[str]]] = []  # (source, gt id, kind, transforms)
    a_list, b_list = lists["A_references"], lists["B_noncopy_sources"]
    for i in range(args.n_copy):
        queries.append((a_list[i % len(a_list)], ids[a_list[i % len(a_list)]], "copy", []))
    for i in range(args.n_noncopy):
        queries.append((b_list[i % len(b_list)], None, "noncopy", []))
    for i in range(args.crop25):
        queries.append((a_list[(7 * i) % len(a_list)], ids[a_list[(7 * i) % len(a_list)]], "crop25", []))

    preds: dict[str, list[tuple[int, int, float]]] = {"ours": [], "phash": [], "pdqhash": []}
    rows = []
    times = []
    cache: dict[str, np.ndarray] = {}
    for qi, (src, gt, kind, _) in enumerate(queries):
        rng = np.random.default_rng(np.random.SeedSequence((args.seed, qi)))
        if src not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[src] = C.load(src)
        img = cache[src]
        if kind == "crop25":
            q, names = C.crop25_query(img, rng), ["crop25"]
        else:
            q, names = C.make_query(img, rng)
        t = time.perf_counter()
        res = search(ix, q, top_k=10, localize=False)
        times.append(time.perf_counter() - t)
        top = [(m.ref.id, m.copy_probability, m.inliers) for m in res.matches]
        if kind != "crop25":
            preds["ours"] += [(qi, r, p + 1e-4 * min(inl, 1000) / 1000) for r, p, inl in top]
            if rb_ph is not None and rb_pdq is not None:
                preds["phash"] += [(qi, r, s) for r, s in baseline_preds(phash_bits(q), rb_ph, ref_ids)]
                preds["pdqhash"] += [(qi, r, s) for r, s in baseline_preds(pdq_bits(q), rb_pdq, ref_ids)]
        b_ph = baseline_preds(phash_bits(q), rb_ph, ref_ids, 1)[0][0] if rb_ph is not None else None
        b_pdq = baseline_preds(pdq_bits(q), rb_pdq, ref_ids, 1)[0][0] if rb_pdq is not None else None
        rows.append(
            {
                "q": qi,
                "kind": kind,
                "src": src,
                "gt": gt,
                "transforms": [str(n) for n in names],
                "top1": top[0][0] if top else None,
                "p1": top[0][1] if top else 0.0,
                "inl1": top[0][2] if top else 0,
                "p_gt": next((p for r, p, _ in top if r == gt), 0.0),
                "inl_gt": next((inl for r, _, inl in top if r == gt), 0),
                "phash_top1": b_ph,
                "pdq_top1": b_pdq,
                "ms": round(1000 * times[-1], 1),
            }
        )
        if (qi + 1) % 100 == 0:
            print(f"  queries {qi + 1}/{len(queries)} ({np.median(times):.3f} s median)", flush=True)

    gt_map = {r["q"]: r["gt"] for r in rows if r["kind"] == "copy"}
    n_pos = len(gt_map)
    copies = [r for r in rows if r["kind"] == "copy"]
    non = [r for r in rows if r["kind"] == "noncopy"]
    crops = [r for r in rows if r["kind"] == "crop25"]
    out: dict = {
        "command": " ".join(sys.argv),
        "n_refs": len(refs),
        "descriptor": ix.descriptor_kind,
        "local_votes": not args.no_local_votes,
        "n_copy": len(copies),
        "n_noncopy": len(non),
        "n_crop25": len(crops),
        "seconds_per_ref_add": add_s,
        "search_ms_p50": 1000 * float(np.median(times)),
        "search_ms_p99": 1000 * float(np.percentile(times, 99)),
    }
    for name in preds:
        if not preds[name]:
            continue
        key = {"ours": "top1", "phash": "phash_top1", "pdqhash": "pdq_top1"}[name]
        out[name] = {
            "muAP": C.micro_ap(preds[name], gt_map, n_pos),
            "recall_at_p90": C.recall_at_precision(preds[name], gt_map, n_pos, 0.9),
            "recall@1": float(np.mean([r[key] == r["gt"] for r in copies])),
            "crop25_recall@1": float(np.mean([r[key] == r["gt"] for r in crops])) if crops else None,
        }
    # decision threshold 0.5 on copy_probability
    out["ours"]["at_0.5"] = {
        "copy_recall": float(np.mean([r["top1"] == r["gt"] and r["p1"] >= 0.5 for r in copies])),
        "noncopy_false_positive_rate": float(np.mean([r["p1"] >= 0.5 for r in non])),
    }
    per_t: dict[str, list[bool]] = {}
    for r in copies:
        for t in r["transforms"]:
            per_t.setdefault(t, []).append(r["top1"] == r["gt"])
    out["ours"]["recall@1_by_transform"] = {t: round(float(np.mean(v)), 3) for t, v in sorted(per_t.items())}
    out["wall_s"] = time.perf_counter() - t0
    args.out.write_text(json.dumps({"summary": out, "rows": rows}, indent=1))
    print(json.dumps(out, indent=1))
    if args.calibrate:
        fit_calibration(copies + crops, non)
    ix.close()


def fit_calibration(pos: list[dict], neg: list[dict]) -> None:
    """Logistic fit of P(copy) on log1p(inliers): positives = the true reference's inliers, negatives = the best
    wrong candidate of non-copy queries."""
    from sklearn.linear_model import LogisticRegression

    x = [math.log1p(r["inl_gt"]) for r in pos if r["inl_gt"] > 0] + [math.log1p(r["inl1"]) for r in neg]
    y = [1] * sum(1 for r in pos if r["inl_gt"] > 0) + [0] * len(neg)
    lr = LogisticRegression(C=10.0).fit(np.array(x)[:, None], np.array(y))
    # search.probability_from_inliers uses sigmoid(2 * (a * log1p(inl) + b))
    a, b = float(lr.coef_[0][0]) / 2.0, float(lr.intercept_[0]) / 2.0
    path = (
        Path(__file__).resolve().parents[1]
        / "src"
        / "pixelsleuth"
        / "provenance"
        / "trained"
        / "calibration.json"
    )
    path.parent.mkdir(exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {}
    old.update(
        {
            "a_inl": a,
            "b_inl": b,
            "fitted_on": "copy_isc.py --calibrate",
            "n_pos": int(sum(y)),
            "n_neg": int(len(y) - sum(y)),
        }
    )
    path.write_text(json.dumps(old, indent=1))
    print("calibration written:", path, old)


if __name__ == "__main__":
    main()
