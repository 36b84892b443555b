"""Train, evaluate (leave-one-generator-out) and calibrate the AI-generated image detectors.

Reads the feature cache written by benchmarks/ai_data.py (run that first), then:

1. LOGO: for each generator G and each half h, train on the other two generators' prompt-half h plus real
   half h (training views), test on G's prompt-half 1-h plus real half 1-h (evaluation views). Every test image
   thus gets an out-of-fold (OOF) score from a model that never saw its generator, its prompt or its camera.
   Fusion weights inside each fold come from an inner prompt-disjoint 2-fold split of the training part
   (AI_STACK_INNER=generator: inner leave-one-generator-out instead; see docs/bench/ai_generated.md).
2. Reports AUC, TPR at 5% FPR on real photos, per generator and condition (clean / jpeg75 / social / swap),
   beside a constant-score baseline (AUC 0.5).
3. Calibration: Platt scaling (class-balanced, so 0.5 is the threshold at equal priors) fitted on OOF logits;
   ECE measured by cross-fitting (fit on one half, measure on the other). Band thresholds are chosen for 5% and
   20% FPR on real photos (OOF).
4. Trains the shipped models on all data and writes src/pixelsleuth/models/trained/ai_*.json.

Usage: python benchmarks/ai_train.py [--no-write] [--cache DIR]   (--no-write: print the tables only, write nothing)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRAINED = ROOT / "src/pixelsleuth/models/trained"
CACHE = Path(os.environ.get("AI_CACHE", "/tmp/pixelsleuth-ai-cache"))
GENERATORS = ("dmin", "ldif", "disco")
CONDS = ("clean", "jpeg75", "social", "swap")
SEED = 20261122
C_ART = 0.05
C_CLIP = 0.5
STACK_INNER = os.environ.get("AI_STACK_INNER", "prompt")  # or "generator"
CLIP_TRAIN_VIEWS = ("clean", "jpeg75", "social")
ART_TRAIN_VIEWS = ("train0", "train1", "clean")  # two augmented views + the stored image


# ------------------------------------------------------------------------------------------- models
def fit_lr(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, LogisticRegression]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    lr.fit((x - mean) / scale, y)
    return mean, scale, lr


def lr_logit(model: tuple[np.ndarray, np.ndarray, LogisticRegression], x: np.ndarray) -> np.ndarray:
    mean, scale, lr = model
    out = np.full(len(x), np.nan)
    ok = np.isfinite(x).all(axis=1)  # CLIP embeddings of degraded views exist for a subset only
    if ok.any():
        out[ok] = lr.decision_function((x[ok] - mean) / scale)
    return out


def to_linear_json(
    model: tuple[np.ndarray, np.ndarray, LogisticRegression], platt: tuple[float, float], meta: dict
) -> dict:
    from pixelsleuth.models.ai_common import LinearModel

    mean, scale, lr = model
    lm = LinearModel(
        mean=mean,
        scale=scale,
        weights=[lr.coef_.T.copy()],
        biases=[lr.intercept_.copy()],
        platt_a=platt[0],
        platt_b=platt[1],
        meta=meta,
    )
    return lm.to_json()


def platt_fit(logit: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    lr = LogisticRegression(C=1e4, class_weight="balanced", max_iter=1000)
    lr.fit(logit.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def ece_balanced(p: np.ndarray, y: np.ndarray, bins: int = 10) -> tuple[float, list[dict]]:
    """Expected calibration error with class-balanced sample weights (equal priors)."""
    w = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum()))
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    e = 0.0
    table = []
    for b in range(bins):
        m = idx == b
        if not m.any():
            continue
        wb = w[m].sum()
        conf = float((w[m] * p[m]).sum() / wb)
        acc = float((w[m] * y[m]).sum() / wb)
        e += wb * abs(conf - acc)
        table.append({"bin": b, "weight": float(wb), "confidence": conf, "frequency": acc, "n": int(m.sum())})
    return float(e), table


def tpr_at_fpr(score: np.ndarray, y: np.ndarray, fpr: float = 0.05) -> tuple[float, float]:
    neg = np.sort(score[y == 0])
    thr = float(np.quantile(neg, 1 - fpr, method="higher"))
    return float((score[y == 1] > thr).mean()), thr


# ------------------------------------------------------------------------------------------- protocol
def load(cache: Path, cnn_file: str = "cnn_oof.npz") -> dict:
    """Artifact features (feats_art.npz, or feats.npz of older runs) + CLIP embeddings (feats_clip.npz), by path.

    ``cnn_file``: the CNN's out-of-fold logits (ai_cnn_train.py); a file written with ``--inner-out`` also holds each
    fold network's logits on the items it neither trained on nor is tested on (for the nested stack)."""
    art_p = cache / "feats_art.npz" if (cache / "feats_art.npz").exists() else cache / "feats.npz"
    d = {k: v for k, v in np.load(art_p, allow_pickle=False).items() if not k.startswith("clip_")}
    clip_p = cache / "feats_clip.npz"
    d["has_clip"] = clip_p.exists()
    if d["has_clip"]:
        c = np.load(clip_p, allow_pickle=False)
        pos = {p: i for i, p in enumerate(c["paths"])}
        keep = np.array([p in pos for p in d["paths"]])
        d = {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in d.items()}
        order = np.array([pos[p] for p in d["paths"]])
        for k in c.files:
            if k.startswith("clip_"):
                d[k] = c[k][order]
    d["has_cnn"] = (cache / cnn_file).exists()
    d["has_cnn_inner"] = False
    if d["has_cnn"]:
        # out-of-fold CNN logits written by benchmarks/ai_cnn_train.py (same folds), aligned to d by path
        c = np.load(cache / cnn_file, allow_pickle=False)
        pos = {p: i for i, p in enumerate(d["paths"])}
        missing = [p for p in d["paths"] if p not in set(c["paths"].tolist())]
        if missing:
            raise SystemExit(
                f"{cnn_file} lacks {len(missing)} items (e.g. {missing[0]}); rerun ai_cnn_train.py"
            )
        d["cnn_stats"] = {}

        def spread(items: np.ndarray, src: str, dst: str) -> None:
            # the file's per-fold item lists -> full-length arrays aligned to d (NaN elsewhere), per condition
            rows = np.array([pos.get(p, -1) for p in c["paths"][items]])
            ok = rows >= 0
            for cond in CONDS:
                full = np.full(len(d["paths"]), np.nan)
                full[rows[ok]] = c[f"{src}_{cond}"][ok]
                d[f"{dst}_{cond}"] = full

        for g in GENERATORS:
            for h in (0, 1):
                spread(c[f"test_{g}_{h}"], f"oof_{g}_{h}", f"cnn_oof_{g}_{h}")
                d["cnn_stats"][(g, h)] = [float(v) for v in c[f"stats_{g}_{h}"]]
                if f"inner_{g}_{h}" in c.files:
                    d["has_cnn_inner"] = True
                    spread(c[f"inner_{g}_{h}"], f"inner_{g}_{h}", f"cnn_inner_{g}_{h}")
        d["cnn_steps"] = int(c["steps"])
    return d


def train_xy(d: dict, idx: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "art":
        x = np.concatenate([d[f"art_{v}"][idx] for v in ART_TRAIN_VIEWS])
        y = np.concatenate([d["labels"][idx]] * len(ART_TRAIN_VIEWS))
    else:
        # CLIP: the stored view of every training image, plus its re-encoded views where they were embedded
        # (for every 3rd image; see ai_data.CLIP_DEGRADED_EVERY). Test images are never among them.
        x = np.concatenate([d[f"clip_{v}"][idx] for v in CLIP_TRAIN_VIEWS])
        y = np.concatenate([d["labels"][idx]] * len(CLIP_TRAIN_VIEWS))
        ok = np.isfinite(x).all(axis=1)
        x, y = x[ok], y[ok]
    return x, y


def fit_detectors(d: dict, idx: np.ndarray, kinds: list[str]) -> dict:
    out = {}
    for k in kinds:
        if k == "cnn":  # trained per fold by benchmarks/ai_cnn_train.py; its OOF logits are in the cache
            continue
        x, y = train_xy(d, idx, k)
        out[k] = fit_lr(x, y, C_ART if k == "art" else C_CLIP)
    return out


def fit_stack(d: dict, idx: np.ndarray, kinds: list[str]) -> LogisticRegression:
    """Stacking weights from inner out-of-fold logits of the training indices.

    STACK_INNER = "generator": inner leave-one-generator-out over the generators present in ``idx`` (the
    deployment question: how much to trust each detector on a generator it never saw), real photos split by
    halves; "prompt": an inner prompt-disjoint 2-fold split (same generators on both sides)."""
    keys = d["paths"][idx]
    inner = np.array([hash_half(k) for k in keys])
    lab, grp = d["labels"][idx], d["groups"][idx]
    gens = sorted(set(grp[lab == 1]))
    folds = []
    if STACK_INNER == "generator" and len(gens) >= 2:
        for j, g in enumerate(gens):
            h = j % 2
            tr = idx[((lab == 1) & (grp != g)) | ((lab == 0) & (inner == h))]
            te = idx[((lab == 1) & (grp == g)) | ((lab == 0) & (inner != h))]
            folds.append((tr, te))
    else:
        folds = [(idx[inner == h], idx[inner != h]) for h in (0, 1)]
    zs, ys = [], []
    for tr, te in folds:
        if len(np.unique(d["labels"][tr])) < 2 or len(np.unique(d["labels"][te])) < 2:
            continue
        m = fit_detectors(d, tr, kinds)
        zs.append(np.stack([lr_logit(m[k], d[f"{k}_clean"][te]) for k in kinds], axis=1))
        ys.append(d["labels"][te])
    st = LogisticRegression(C=1.0, class_weight="balanced")
    st.fit(np.concatenate(zs), np.concatenate(ys))
    return st


def hash_half(path: str) -> int:
    import hashlib

    key = path.split("/")[-1].split("__")[0]
    return int(hashlib.md5(key.encode()).hexdigest()[:6], 16) % 2


def real_train_stats(d: dict, model: tuple, idx: np.ndarray, kind: str) -> list[float]:
    """Mean and sd of a detector's logits on the real photos' training views (for the max_z combination)."""
    real = idx[d["labels"][idx] == 0]
    x, _ = train_xy(d, real, kind)
    z = lr_logit(model, x)
    z = z[np.isfinite(z)]
    return [float(z.mean()), float(z.std() + 1e-6)]


def max_z(z: np.ndarray, stats: list[list[float]]) -> np.ndarray:
    """The fixed OR-style combination: the larger of the logits standardised on real training photos."""
    c = np.array([s[0] for s in stats])
    sc = np.array([s[1] for s in stats])
    return ((z - c) / sc).max(axis=1)


def fold_logits(
    d: dict, models: dict, kinds: list[str], cnn_key: str, cond: str, idx: np.ndarray
) -> np.ndarray:
    """Items x kinds raw logits of one fold: the CNN's from the cached fold network (``cnn_key``), the others from
    the fold's fitted models on condition ``cond``."""
    cols = [d[cnn_key][idx] if k == "cnn" else lr_logit(models[k], d[f"{k}_{cond}"][idx]) for k in kinds]
    return np.stack(cols, axis=1)


def logo(d: dict, kinds: list[str], combine: str = "linear") -> dict:
    """OOF logits: res[G][cond][kind or 'fused'] -> array over test items; plus item indices and labels.

    ``combine``: "linear" (stacking weights from an inner split) or "max_z" (fixed rule, see :func:`max_z`)."""
    labels, groups, halves = d["labels"], d["groups"], d["halves"]
    res: dict = {}
    for g in GENERATORS:
        items, per = [], {c: {k: [] for k in [*kinds, "fused"]} for c in CONDS}
        for h in (0, 1):
            tr = np.where(((labels == 1) & (groups != g) & (halves == h)) | ((labels == 0) & (halves == h)))[
                0
            ]
            te = np.where(((labels == 1) & (groups == g) & (halves != h)) | ((labels == 0) & (halves != h)))[
                0
            ]
            models = fit_detectors(d, tr, kinds)
            stack = fit_stack(d, tr, kinds) if len(kinds) > 1 and combine == "linear" else None
            nested = nested_stacks(d, models, g, h, kinds) if combine == "nested" else None
            stats = [
                d["cnn_stats"][(g, h)] if k == "cnn" else real_train_stats(d, models[k], tr, k) for k in kinds
            ]
            items.append(te)
            for c in CONDS:
                z = fold_logits(d, models, kinds, f"cnn_oof_{g}_{h}_{c}", c, te)
                for j, k in enumerate(kinds):
                    per[c][k].append(z[:, j])
                fz = np.full(len(te), np.nan)
                ok = np.isfinite(z).all(axis=1)
                if ok.any():
                    if combine == "max_z":
                        fz[ok] = max_z(z[ok], stats)
                    elif nested is not None:
                        fz[ok] = nested_apply(nested, d, te[ok], z[ok])
                    else:
                        fz[ok] = stack.decision_function(z[ok]) if stack is not None else z[ok, 0]
                per[c]["fused"].append(fz)
        idx = np.concatenate(items)
        res[g] = {"idx": idx, "y": labels[idx]}
        for c in CONDS:
            res[g][c] = {k: np.concatenate(v) for k, v in per[c].items()}
    return res


def nested_stacks(d: dict, models: dict, g: str, h: int, kinds: list[str]) -> dict:
    """Stacking weights for fold (g, h) fitted on items the fold's networks never saw and that are not G's: the
    other generators' other-half prompts and the other-half real photos, scored by this fold's CNN and artifact
    model (clean, jpeg75 and social views). Those real photos are also the fold's test reals, so they are split
    in two by a hash of the path, and each half's test reals are scored by the stack fitted on the other half."""
    labels, groups = d["labels"], d["groups"]
    inn = np.where(np.isfinite(d[f"cnn_inner_{g}_{h}_clean"]))[0]
    par = np.array([hash_half(p) for p in d["paths"][inn]])
    out: dict = {}
    for q in (0, 1):
        sel = inn[((labels[inn] == 1) & (groups[inn] != g)) | ((labels[inn] == 0) & (par == q))]
        xs, ys = [], []
        for c in ("clean", "jpeg75", "social"):
            z = fold_logits(d, models, kinds, f"cnn_inner_{g}_{h}_{c}", c, sel)
            ok = np.isfinite(z).all(axis=1)
            xs.append(z[ok])
            ys.append(labels[sel][ok])
        out[q] = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(
            np.concatenate(xs), np.concatenate(ys)
        )
    return out


def nested_apply(stacks: dict, d: dict, te: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Test reals: the stack that did not see them (other path-hash half); generated items: the mean of both."""
    par = np.array([hash_half(p) for p in d["paths"][te]])
    s0, s1 = stacks[0].decision_function(z), stacks[1].decision_function(z)
    real = d["labels"][te] == 0
    return np.where(real & (par == 0), s1, np.where(real & (par == 1), s0, 0.5 * (s0 + s1)))


def metrics(res: dict, kinds: list[str]) -> dict:
    out: dict = {}
    for g, r in res.items():
        y = r["y"]
        out[g] = {}
        for c in CONDS:
            out[g][c] = {}
            ok = np.isfinite(r[c]["fused"])
            for k in [*kinds, "fused"]:
                s = r[c][k][ok]
                if not np.isfinite(s).all():
                    continue
                tpr, _ = tpr_at_fpr(s, y[ok])
                out[g][c][k] = {
                    "auc": round(float(roc_auc_score(y[ok], s)), 4),
                    "tpr_at_5fpr": round(tpr, 4),
                    "n": [int((y[ok] == 1).sum()), int((y[ok] == 0).sum())],
                }
            out[g][c]["constant"] = {"auc": 0.5, "tpr_at_5fpr": 0.0}
            if c != "clean":  # clean on exactly the items of this condition, for a like-for-like drop
                sc = r["clean"]["fused"][ok]
                out[g][c]["fused_clean_same_items"] = {
                    "auc": round(float(roc_auc_score(y[ok], sc)), 4),
                    "tpr_at_5fpr": round(tpr_at_fpr(sc, y[ok])[0], 4),
                }
        # swap test: how many generated images flip decision between clean and JPEG-saved (at the 5%-FPR threshold)
        _, thr = tpr_at_fpr(r["clean"]["fused"], y)
        pos = (y == 1) & np.isfinite(r["swap"]["fused"])
        a, b = r["clean"]["fused"][pos] > thr, r["swap"]["fused"][pos] > thr
        out[g]["swap_flip_rate_generated"] = round(float((a != b).mean()), 4)
        out[g]["swap_detected_clean_vs_jpeg"] = [round(float(a.mean()), 4), round(float(b.mean()), 4)]
    return out


def isotonic_knots(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced isotonic regression of y on z, as a piecewise-linear map through the midpoints of its
    constant blocks (strictly increasing, so thresholds do not land on plateaus); probabilities kept in
    [0.001, 0.999]."""
    from sklearn.isotonic import IsotonicRegression

    w = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum()))
    ir = IsotonicRegression(out_of_bounds="clip", y_min=0.001, y_max=0.999).fit(z, y, sample_weight=w)
    x, v = np.asarray(ir.X_thresholds_), np.asarray(ir.y_thresholds_)
    kx, ky = [], []
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[j + 1] == v[i]:
            j += 1
        kx.append(0.5 * (x[i] + x[j]))
        ky.append(float(v[i]))
        i = j + 1
    return np.asarray(kx), np.asarray(ky)


def calibration(res: dict, d: dict, kind: str) -> dict:
    """Cross-fitted calibration + ECE on pooled OOF logits of the clean/jpeg75/social conditions.

    Two calibrators are fitted, Platt (2 parameters) and a piecewise-linear isotonic map; each is cross-fitted
    (fit on one prompt/camera half, measured on the other) and the one with the lower cross-fitted ECE is used.
    The rule is generic: a max-of-logits combination, for example, is not sigmoid-shaped."""
    z, y, half = [], [], []
    for r in res.values():
        for c in ("clean", "jpeg75", "social"):
            z.append(r[c][kind])
            y.append(r["y"])
            half.append(d["halves"][r["idx"]])
    z, y, half = np.concatenate(z), np.concatenate(y), np.concatenate(half)
    ok = np.isfinite(z)
    z, y, half = z[ok], y[ok], half[ok]
    p_platt = np.zeros_like(z, dtype=np.float64)
    p_iso = np.zeros_like(z, dtype=np.float64)
    for h in (0, 1):
        tr, te = half == h, half != h
        a, b = platt_fit(z[tr], y[tr])
        p_platt[te] = sigmoid(a * z[te] + b)
        kx, ky = isotonic_knots(z[tr], y[tr])
        p_iso[te] = np.interp(z[te], kx, ky)
    ece_platt, table_platt = ece_balanced(p_platt, y)
    ece_iso, table_iso = ece_balanced(p_iso, y)
    use_iso = ece_iso < ece_platt
    ece, table = (ece_iso, table_iso) if use_iso else (ece_platt, table_platt)
    a, b = platt_fit(z, y)
    kx, ky = isotonic_knots(z, y)
    p_all = np.interp(z, kx, ky) if use_iso else sigmoid(a * z + b)
    neg = np.sort(p_all[y == 0])
    t5 = float(np.quantile(neg, 0.95, method="higher"))
    t20 = float(np.quantile(neg, 0.80, method="higher"))
    return {
        "platt": [a, b],
        "calibrator": "isotonic" if use_iso else "platt",
        "isotonic": {"x": [round(float(v), 6) for v in kx], "y": [round(float(v), 6) for v in ky]},
        "ece_crossfit_platt": round(ece_platt, 4),
        "ece_crossfit_isotonic": round(ece_iso, 4),
        "ece_crossfit": round(ece, 4),
        "reliability": table,
        "threshold_fpr5": t5,
        "threshold_fpr20": t20,
        "tpr_at_threshold_fpr5": round(float((p_all[y == 1] >= t5).mean()), 4) if t5 < 1 else 0.0,
        "p_cross": p_iso if use_iso else p_platt,
        "y": y,
    }


def reliability_png(cals: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for name, c in cals.items():
        t = c["reliability"]
        ax.plot(
            [r["confidence"] for r in t],
            [r["frequency"] for r in t],
            "o-",
            label=f"{name} (ECE {c['ece_crossfit']:.3f})",
        )
    ax.set_xlabel("predicted P(generated) (equal priors)")
    ax.set_ylabel("observed fraction generated (class-balanced)")
    ax.set_title("AI-generated detectors: reliability (LOGO OOF, cross-fitted)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--cache", default=str(CACHE))
    ap.add_argument("--cnn-file", default="cnn_oof.npz", help="CNN logits in --cache (ai_cnn_train.py)")
    ap.add_argument(
        "--results-out", default=None, help="write the results here (and no reliability PNG): for experiments"
    )
    a = ap.parse_args()
    t0 = time.time()
    d = load(Path(a.cache), a.cnn_file)
    print(f"{len(d['labels'])} images ({int(d['labels'].sum())} generated), clip={d['has_clip']}")
    variants = {"art_only": ["art"]}
    combine = {"art_only": "linear"}
    if d["has_cnn"]:
        variants["cnn_only"] = ["cnn"]
        variants["art_cnn"] = ["art", "cnn"]
        # cnn_only is standardised like art_cnn (logit - real mean) / real sd, each network (fold or final) by its own
        # real training logits, so that the final network, trained on twice the data, is calibrated like the folds
        combine.update(cnn_only="max_z", art_cnn="max_z")
    if d[
        "has_cnn_inner"
    ]:  # experiment: a stack fitted on items the fold's networks never saw (nested_stacks)
        variants["art_cnn_nested"] = ["art", "cnn"]
        combine["art_cnn_nested"] = "nested"
    if d["has_clip"]:
        variants["clip_only"] = ["clip"]
        variants["art_clip"] = ["art", "clip"]
        combine.update(clip_only="linear", art_clip="linear")
    # a variant with the CLIP probe (when it ran) decides over the no-registry ones
    priority = {"clip_only": 1, "art_clip": 1}
    results: dict = {"n_images": int(len(d["labels"])), "n_generated": int(d["labels"].sum()), "variants": {}}
    if d["has_cnn"]:
        results["cnn_steps"] = d["cnn_steps"]
    cals: dict = {}
    for vname, kinds in variants.items():
        res = logo(d, kinds, combine[vname])
        m = metrics(res, kinds)
        cal = calibration(res, d, "fused")
        cals[vname] = cal
        results["variants"][vname] = {
            "combine": combine[vname],
            "metrics": m,
            "calibration": {k: v for k, v in cal.items() if k not in ("p_cross", "y")},
        }
        print(f"== {vname}")
        for g in GENERATORS:
            row = " ".join(
                f"{c}:auc={m[g][c]['fused']['auc']:.3f}/tpr5={m[g][c]['fused']['tpr_at_5fpr']:.2f}"
                for c in CONDS
            )
            print(f"  {g}: {row} flip={m[g]['swap_flip_rate_generated']}")
        print(
            f"  ECE={cal['ece_crossfit']} ({cal['calibrator']}; platt {cal['ece_crossfit_platt']}, isotonic "
            f"{cal['ece_crossfit_isotonic']}) t5={cal['threshold_fpr5']:.3f} t20={cal['threshold_fpr20']:.3f}"
        )
    results["elapsed_s"] = round(time.time() - t0, 1)
    if a.results_out:
        Path(a.results_out).write_text(json.dumps(results, indent=1))
        return
    if a.no_write:  # an experiment: print only, leave the shipped results, plot and models alone
        return
    (HERE / "ai_results.json").write_text(json.dumps(results, indent=1))
    reliability_png(cals, ROOT / "docs/bench/ai_generated_reliability.png")
    # ---- final models on all data
    allidx = np.arange(len(d["labels"]))
    TRAINED.mkdir(parents=True, exist_ok=True)
    fusion: dict = {"variants": {}}
    for vname, kinds in variants.items():
        models = fit_detectors(d, allidx, kinds)
        if vname in ("art_only", "clip_only"):
            k = kinds[0]
            platt = tuple(cals[vname]["platt"])
            meta = {
                "trained_on": "benchmarks/ai_splits.json",
                "seed": SEED,
                "C": C_ART if k == "art" else C_CLIP,
            }
            fname = "ai_artifact.json" if k == "art" else "ai_clip_head.json"
            (TRAINED / fname).write_text(json.dumps(to_linear_json(models[k], platt, meta)))
        cal = cals[vname]
        entry: dict = {"inputs": kinds, "combine": combine[vname], "priority": priority.get(vname, 0)}
        if combine[vname] == "max_z":
            cnn_meta = json.loads((TRAINED / "ai_cnn.json").read_text())
            stats = [
                cnn_meta["real_logit_mean_sd"] if k == "cnn" else real_train_stats(d, models[k], allidx, k)
                for k in kinds
            ]
            entry.update(center=[s[0] for s in stats], scale=[s[1] for s in stats])
        else:
            st = fit_stack(d, allidx, kinds) if len(kinds) > 1 else None
            entry.update(
                stack_coef=st.coef_[0].tolist() if st is not None else [1.0],
                stack_intercept=float(st.intercept_[0]) if st is not None else 0.0,
            )
        if cal["calibrator"] == "isotonic":
            entry["isotonic"] = cal["isotonic"]  # used instead of platt for the fused probability
        entry.update(
            platt=cal["platt"],
            threshold_ai=cal["threshold_fpr5"],
            threshold_inconclusive=cal["threshold_fpr20"],
        )
        fusion["variants"][vname] = entry
    (TRAINED / "ai_fusion.json").write_text(json.dumps(fusion, indent=1))
    print(f"wrote models to {TRAINED} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
