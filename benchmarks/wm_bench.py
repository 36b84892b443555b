"""Watermark benchmark: ours vs invisible-watermark (dwtDct, dwtDctSvd, rivaGan) and blind-watermark.

Same photos, same seeded attacks (pixelsleuth.bench.perturbations), same 32-bit payloads for every method.
Writes one JSON per run; ``--report`` turns JSON files into the markdown tables of docs/bench/watermark.md.

    python benchmarks/wm_bench.py --methods ours,dwtDct,dwtDctSvd --n 200 --out /tmp/wm_main.json
    python benchmarks/wm_bench.py --methods blind_watermark,rivaGan --n 30 --out /tmp/wm_slow.json
    python benchmarks/wm_bench.py --methods ours@1.2 --n 200 --fpr-n 0 --out /tmp/wm_s12.json   # ours at strength 1.2
    python benchmarks/wm_bench.py --localization --n 100 --out /tmp/wm_loc.json
    python benchmarks/wm_bench.py --report /tmp/wm_main.jsonl /tmp/wm_slow.jsonl /tmp/wm_loc.json

Method runs also append one JSON line per (photo, method) to ``<out>l`` (e.g. /tmp/wm_main.jsonl), so a
partial run can be reported (only photos that every method of that run finished are counted).
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import time
import zlib

import cv2
import numpy as np
from PIL import Image

DATA = os.environ.get(
    "PIXELSLEUTH_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
)
ATTACKS = (
    "none", "jpeg75", "jpeg50", "webp80", "resize0.5", "resize1.5", "crop50", "rotate5", "hflip",
    "brightness", "contrast", "gamma", "blur1", "noise5", "screenshot", "social",
)  # fmt: skip
# the rest of the shared attack suite (colour, overlays, flips, combinations, stronger variants): run with
# --attacks; seeds 1000 * photo + 100 + position here, so the main attacks' seeds never change
EXTRA_ATTACKS = (
    "vflip", "grayscale", "colorjitter", "overlay_text", "border", "combo", "crop25", "rotate-5", "resize0.75",
    "jpeg95", "jpeg85", "jpeg60", "blur2", "noise10",
)  # fmt: skip
KEY = b"benchmark-key-2026"
P_THR = 1e-6


def photo_list(n: int) -> list[str]:
    """Fixed list: sorted file names, interleaved camera / web / bsds500 so any prefix mixes sources."""
    groups = []
    for sub, pat in (("camera", "*.jpg"), ("web", "*.JPEG"), ("bsds500", "*.jpg")):
        groups.append(sorted(glob.glob(os.path.join(DATA, "photos", sub, pat))))
    out: list[str] = []
    i = 0
    while len(out) < n and any(i < len(g) for g in groups):
        for g in groups:
            if i < len(g) and len(out) < n:
                out.append(g[i])
        i += 1
    return out


def load(path: str) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over RGB channels (Gaussian window sigma 1.5, K1 0.01, K2 0.03)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for c in range(3):
        x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)

        def g(z: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(z, (11, 11), 1.5)

        mx, my = g(x), g(y)
        sx, sy, sxy = g(x * x) - mx * mx, g(y * y) - my * my, g(x * y) - mx * my
        vals.append(
            float(
                np.mean(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sx + sy + c2)))
            )
        )
    return float(np.mean(vals))


def attack(name: str, img: np.ndarray, seed: int) -> np.ndarray:
    if name == "none":
        return img
    from pixelsleuth.bench.perturbations import PERTURBATIONS

    return PERTURBATIONS[name](img, np.random.default_rng(seed))


def payload_bits(path: str) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(os.path.basename(path).encode()))
    return rng.integers(0, 2, 32).astype(np.uint8)


def bits_int(b: np.ndarray) -> int:
    v = 0
    for x in b:
        v = (v << 1) | int(x)
    return v


class Method:
    def __init__(self, name: str) -> None:
        self.name = name  # "ours", "ours@1.2" (ours at strength 1.2, e.g. to match a competitor's PSNR), ...
        # "ours@1.6~0.95": strength 1.6 and SSIM floor 0.95 (default floor: the package default)
        spec = name.split("@", 1)[1] if name.startswith("ours@") else "1.0"
        self.strength = float(spec.split("~")[0])
        self.ssim_floor = float(spec.split("~")[1]) if "~" in spec else None
        self.ours = name == "ours" or name.startswith("ours@")

    def embed(self, img: np.ndarray, bits: np.ndarray) -> np.ndarray:
        if self.ours:
            from pixelsleuth.watermark import ours

            if self.ssim_floor is None:
                return ours.embed(img, KEY, bits_int(bits), strength=self.strength)
            return ours.embed(img, KEY, bits_int(bits), strength=self.strength, ssim_floor=self.ssim_floor)
        from pixelsleuth.watermark import thirdparty as tp

        return tp.embed(img, self.name, bits)

    def decode(self, img: np.ndarray) -> tuple[np.ndarray | None, float]:
        """(bits or None when the decoder refused the image, zero-bit p-value)."""
        if self.ours:
            from pixelsleuth.watermark import ours

            r = ours.detect(img, KEY, want_map=False)
            return r.bits, r.p_value
        from pixelsleuth.watermark import thirdparty as tp

        try:
            b = tp.decode(img, self.name, 32)
        except Exception:  # noqa: BLE001 - e.g. 'image too small' after downscaling
            return None, 1.0
        return b, 1.0  # p-value against the true payload is computed by the caller

    def p_known(self, got: np.ndarray | None, truth: np.ndarray, p_ours: float) -> float:
        if self.ours:
            return p_ours
        from pixelsleuth.watermark.thirdparty import binom_tail

        if got is None:
            return 1.0
        return binom_tail(32, int(np.sum(got == truth)))


def run_methods(
    methods: list[str], n: int, fpr_n: int, out: str, start: int = 0, only: tuple[str, ...] | None = None
) -> dict:
    """Photo by photo (every method on the same photo before the next), appending one JSON line per
    (photo, method) to ``out + 'l'`` so a partial run is usable; returns everything at the end."""
    from rich.progress import Progress

    paths = photo_list(n)
    run = [a for a in ATTACKS + EXTRA_ATTACKS if (a in only if only is not None else a in ATTACKS)]
    res: dict = {"photos": [os.path.relpath(p, DATA) for p in paths], "attacks": run, "methods": {}}
    meths = [Method(m) for m in methods]
    with Progress() as prog, open(out + "l", "a") as jl:
        task = prog.add_task(",".join(methods), total=len(paths) - start)
        for idx in range(start, len(paths)):
            p = paths[idx]
            img = load(p)
            bits = payload_bits(p)
            mp = img.shape[0] * img.shape[1] / 1e6
            for meth in meths:
                t0 = time.perf_counter()
                marked = meth.embed(img, bits)
                te = time.perf_counter() - t0
                row = {"method": meth.name, "photo": os.path.basename(p), "mp": mp, "embed_s": te,
                       "psnr": psnr(img, marked), "ssim": ssim(img, marked), "attacks": {}}  # fmt: skip
                for a in ATTACKS + EXTRA_ATTACKS:
                    if (only is None and a in EXTRA_ATTACKS) or (only is not None and a not in only):
                        continue  # (seeds stay those of the full run)
                    a_i = ATTACKS.index(a) if a in ATTACKS else 100 + EXTRA_ATTACKS.index(a)
                    seed = 1000 * idx + a_i
                    att = attack(a, marked, seed)
                    t0 = time.perf_counter()
                    got, p_ours = meth.decode(att)
                    td = time.perf_counter() - t0
                    acc = 0.5 if got is None else float(np.mean(got == bits))
                    row["attacks"][a] = {"acc": acc, "p": meth.p_known(got, bits, p_ours), "t": td,
                                         "mp": att.shape[0] * att.shape[1] / 1e6, "refused": got is None}  # fmt: skip
                    if idx < fpr_n:  # unmarked copy under the same attack: false positives
                        un = attack(a, img, seed)
                        got_u, p_u = meth.decode(un)
                        row["attacks"][a]["p_unmarked"] = meth.p_known(got_u, bits, p_u)
                res["methods"].setdefault(meth.name, []).append(row)
                jl.write(json.dumps(row) + "\n")
                jl.flush()
            prog.advance(task)
    return res


def load_jsonl(path: str) -> dict:
    """Rebuild a result dict from a (possibly partial) JSON-lines file, keeping photos every method finished."""
    rows: dict[str, dict[str, dict]] = {}
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            rows.setdefault(r["method"], {})[r["photo"]] = r
    common = set.intersection(*(set(v) for v in rows.values())) if rows else set()
    methods = {m: [v[ph] for ph in sorted(common)] for m, v in rows.items()}
    every = [r for v in methods.values() for r in v]
    attacks = [a for a in ATTACKS + EXTRA_ATTACKS if every and all(a in r["attacks"] for r in every)]
    return {"attacks": attacks, "methods": methods}


def run_localization(n: int, frac: float = 0.2) -> dict:
    """Mark, replace a random rectangle of ``frac`` of the area with another (unmarked) photo, then optionally
    JPEG; pixel F1 of the map at 0.5 against the true rectangle."""
    from pixelsleuth.bench.perturbations import PERTURBATIONS
    from pixelsleuth.watermark import ours

    paths = photo_list(n + 1)
    rows = []
    for idx, p in enumerate(paths[:n]):
        img = load(p)
        donor = load(paths[(idx + 7) % len(paths)])
        rng = np.random.default_rng(idx)
        marked = ours.embed(img, KEY, 12345)
        h, w = img.shape[:2]
        ar = rng.uniform(0.6, 1.6)
        rh = int(round(math.sqrt(frac * h * w / ar)))
        rw = int(round(frac * h * w / max(rh, 1)))
        rh, rw = min(rh, h - 1), min(rw, w - 1)
        y0, x0 = int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1))
        d = cv2.resize(donor, (w, h), interpolation=cv2.INTER_AREA)
        spliced = marked.copy()
        spliced[y0 : y0 + rh, x0 : x0 + rw] = d[y0 : y0 + rh, x0 : x0 + rw]
        gt = np.zeros((h, w), bool)
        gt[y0 : y0 + rh, x0 : x0 + rw] = True
        row = {"photo": os.path.basename(p), "area": float(gt.mean())}
        for post in ("none", "jpeg75"):
            x = spliced if post == "none" else PERTURBATIONS[post](spliced, np.random.default_rng(idx))
            r = ours.detect(x, KEY, want_map=True)
            if r.map is None:
                f1 = 0.0
            else:
                pred = r.map > 0.5
                tp_, fp, fn = np.sum(pred & gt), np.sum(pred & ~gt), np.sum(~pred & gt)
                f1 = float(2 * tp_ / max(2 * tp_ + fp + fn, 1))
            ones = float(2 * gt.sum() / (gt.sum() + gt.size))
            # the same marked image without splicing: hole fraction (false holes)
            clean = marked if post == "none" else PERTURBATIONS[post](marked, np.random.default_rng(idx))
            rc = ours.detect(clean, KEY, want_map=True)
            row[post] = {"f1": f1, "f1_all_ones": ones, "detected": r.detected, "hole_spliced": r.hole_fraction,
                         "hole_clean": rc.hole_fraction}  # fmt: skip
        rows.append(row)
    return {"localization": rows, "frac": frac}


# ------------------------------------------------------------------------------------------------ report


def _fmt(x: float, nd: int = 3) -> str:
    return f"{x:.{nd}f}"


def run_speed(n_small: int = 20) -> dict:
    """Embed/detect time per MP for ours: wall and process CPU time (robust to other jobs on the machine), on the
    large camera originals (photos/full) and on small photos; detection on the marked image after JPEG 90."""
    from pixelsleuth.bench.perturbations import PERTURBATIONS
    from pixelsleuth.watermark import ours

    big = sorted(glob.glob(os.path.join(DATA, "photos", "full", "*")))
    big = [p for p in big if p.lower().endswith((".jpg", ".jpeg"))]
    rows = []
    for group, paths in (("full", big), ("small", photo_list(n_small))):
        for i, p in enumerate(paths):
            try:
                img = load(p)
            except Exception:  # noqa: BLE001
                continue
            mp = img.shape[0] * img.shape[1] / 1e6
            w0, c0 = time.perf_counter(), time.process_time()
            m = ours.embed(img, KEY, 7)
            w1, c1 = time.perf_counter(), time.process_time()
            x = PERTURBATIONS["jpeg85"](m, np.random.default_rng(i))
            w2, c2 = time.perf_counter(), time.process_time()
            r = ours.detect(x, KEY, want_map=False)
            w3, c3 = time.perf_counter(), time.process_time()
            xu = PERTURBATIONS["jpeg85"](
                img, np.random.default_rng(i)
            )  # the unmarked photo: the whole search runs
            w4, c4 = time.perf_counter(), time.process_time()
            ru = ours.detect(xu, KEY, want_map=False)
            w5, c5 = time.perf_counter(), time.process_time()
            rows.append({"group": group, "photo": os.path.basename(p), "mp": mp, "embed_wall": w1 - w0,
                         "embed_cpu": c1 - c0, "detect_wall": w3 - w2, "detect_cpu": c3 - c2,
                         "unmarked_wall": w5 - w4, "unmarked_cpu": c5 - c4, "unmarked_detected": ru.detected,
                         "ok": r.payload == 7, "psnr": psnr(img, m)})  # fmt: skip
    return {"speed": rows}


def _flat_fields() -> set[str]:
    """Camera crops the dataset manifest marks as flat-field (uniform surface) shots."""
    man = os.path.join(DATA, "photos", "camera", "MANIFEST.tsv")
    if not os.path.exists(man):
        return set()
    return {ln.split("\t")[0] for ln in open(man) if "flat-field" in ln}


def report(files: list[str]) -> str:
    out = []
    for f in files:
        d = load_jsonl(f) if f.endswith(".jsonl") else json.load(open(f))
        if "methods" in d:
            methods = d["methods"]
            names = list(methods)
            n = len(next(iter(methods.values())))
            out.append(f"### {', '.join(names)} on {n} photos ({os.path.basename(f)})\n")
            out.append("| metric | " + " | ".join(names) + " |")
            out.append("|---" * (len(names) + 1) + "|")

            def col(fn, methods=methods, names=names):  # noqa: ANN001, ANN202
                return " | ".join(fn(methods[m]) for m in names)

            out.append(
                "| PSNR dB (mean / min) | "
                + col(
                    lambda r: f"{np.mean([x['psnr'] for x in r]):.2f} / {np.min([x['psnr'] for x in r]):.2f}"
                )
                + " |"
            )
            out.append(
                "| SSIM (mean / min) | "
                + col(
                    lambda r: f"{np.mean([x['ssim'] for x in r]):.4f} / {np.min([x['ssim'] for x in r]):.4f}"
                )
                + " |"
            )
            out.append(
                "| embed s/MP | "
                + col(lambda r: _fmt(sum(x["embed_s"] for x in r) / sum(x["mp"] for x in r)))
                + " |"
            )
            out.append(
                "| detect s/MP (all attacks) | "
                + col(
                    lambda r: _fmt(
                        sum(a["t"] for x in r for a in x["attacks"].values())
                        / sum(a["mp"] for x in r for a in x["attacks"].values())
                    )
                )
                + " |"
            )
            out.append(
                "| detect s/image (median) | "
                + col(lambda r: _fmt(float(np.median([a["t"] for x in r for a in x["attacks"].values()]))))
                + " |"
            )
            flat = _flat_fields()
            if flat:
                out.append(
                    "| SSIM without the 15 flat-field shots (mean / min) | "
                    + col(
                        lambda r, flat=flat: (
                            f"{np.mean([x['ssim'] for x in r if x['photo'] not in flat] or [np.nan]):.4f} / "
                            f"{np.min([x['ssim'] for x in r if x['photo'] not in flat] or [np.nan]):.4f}"
                        )
                    )  # fmt: skip
                    + " |"
                )
            by_source = (("camera", lambda ph: ph.startswith("cam")), ("web", lambda ph: ph.startswith("n0")),
                         ("bsds500", lambda ph: ph[:1].isdigit()))  # fmt: skip
            if not {"jpeg50", "resize0.5", "crop50"} <= set(d["attacks"]):
                by_source = ()
            for src_name, pred in by_source:
                out.append(
                    f"| bit acc jpeg50 / resize0.5 / crop50, {src_name} only | "
                    + col(
                        lambda r, pred=pred: " / ".join(
                            f"{np.mean([x['attacks'][a]['acc'] for x in r if pred(x['photo'])] or [np.nan]):.3f}"
                            for a in ("jpeg50", "resize0.5", "crop50")
                        )
                    )  # fmt: skip
                    + " |"
                )
            out.append("\nBit accuracy (mean over photos; a decoder that refuses the image counts 0.5):\n")
            out.append("| attack | " + " | ".join(names) + " |")
            out.append("|---" * (len(names) + 1) + "|")
            for a in d["attacks"]:
                out.append(
                    f"| {a} | "
                    + col(lambda r, a=a: _fmt(np.mean([x["attacks"][a]["acc"] for x in r])))
                    + " |"
                )
            ours_names = [m for m in names if m == "ours" or m.startswith("ours@")]
            others = [m for m in names if m not in ours_names]
            for om in ours_names if others else []:
                # head-to-head at full precision (the table rounds): for each competitor, the PSNR of both and
                # the attacks where the competitor's bit accuracy is strictly higher
                acc = {m: {a: float(np.mean([x["attacks"][a]["acc"] for x in methods[m]])) for a in d["attacks"]}
                       for m in [om, *others]}  # fmt: skip
                ps = {m: float(np.mean([x["psnr"] for x in methods[m]])) for m in [om, *others]}
                for m in others:
                    behind = [
                        f"{a} ({acc[m][a]:.4f} vs {acc[om][a]:.4f})"
                        for a in d["attacks"]
                        if acc[m][a] > acc[om][a]
                    ]
                    out.append(
                        f"\n{om} ({ps[om]:.2f} dB) vs {m} ({ps[m]:.2f} dB): {om} has the best or equal bit accuracy on "
                        f"{len(d['attacks']) - len(behind)} of {len(d['attacks'])} attacks"
                        + (f"; {m} is higher on {', '.join(behind)}" if behind else "")
                        + "."
                    )
            out.append(
                f"\nZero-bit TPR at p <= {P_THR:g} (ours: its zero-bit p-value, pilot combined with the CRC; others: >= 30 of 32 known bits), and false positives on unmarked copies (count / tested):\n"
            )
            out.append("| attack | " + " | ".join(f"{m} TPR | {m} FP" for m in names) + " |")
            out.append("|---" * (2 * len(names) + 1) + "|")
            for a in d["attacks"]:
                cells = []
                for m in names:
                    r = methods[m]
                    tpr = np.mean([x["attacks"][a]["p"] <= P_THR for x in r])
                    un = [x["attacks"][a]["p_unmarked"] for x in r if "p_unmarked" in x["attacks"][a]]
                    cells.append(f"{tpr:.3f} | {sum(u <= P_THR for u in un)}/{len(un)}")
                out.append(f"| {a} | " + " | ".join(cells) + " |")
            out.append("")
        if "speed" in d:
            out.append(
                f"### Speed of ours ({os.path.basename(f)}; OMP_NUM_THREADS=1, detection after JPEG 85)\n"
            )
            out.append(
                "| photos | n | mean MP | embed s/MP wall / CPU | detect s/MP wall / CPU | payload decoded | PSNR "
                "| unmarked: detect s/MP wall / CPU | unmarked: s/image (median / max) |"
            )
            out.append("|---|---|---|---|---|---|---|---|---|")
            for g in ("full", "small"):
                rs = [r for r in d["speed"] if r["group"] == g]
                if not rs:
                    continue
                mp = sum(r["mp"] for r in rs)
                out.append(
                    f"| {g} | {len(rs)} | {mp / len(rs):.2f} | {sum(r['embed_wall'] for r in rs) / mp:.3f} / "
                    f"{sum(r['embed_cpu'] for r in rs) / mp:.3f} | {sum(r['detect_wall'] for r in rs) / mp:.3f} / "
                    f"{sum(r['detect_cpu'] for r in rs) / mp:.3f} | {np.mean([r['ok'] for r in rs]):.2f} | "
                    f"{np.mean([r['psnr'] for r in rs]):.2f} | "
                    + (
                        f"{sum(r['unmarked_wall'] for r in rs) / mp:.3f} / {sum(r['unmarked_cpu'] for r in rs) / mp:.3f}"
                        f" | {np.median([r['unmarked_wall'] for r in rs]):.2f} / {max(r['unmarked_wall'] for r in rs):.2f} |"
                        if "unmarked_wall" in rs[0]
                        else "- | - |"
                    )
                )
            out.append("")
        if "localization" in d:
            rows = d["localization"]
            out.append(
                f"### Localization: {100 * d['frac']:.0f}% of a marked image replaced, {len(rows)} photos ({os.path.basename(f)})\n"
            )
            out.append(
                "| post-processing | pixel F1 (mean) | F1 median | all-ones baseline F1 | mark still detected | hole fraction, spliced | hole fraction, unedited (mean / 95th pct) |"
            )
            out.append("|---|---|---|---|---|---|---|")
            for post in ("none", "jpeg75"):
                f1 = [r[post]["f1"] for r in rows]
                hc = [r[post]["hole_clean"] for r in rows]
                out.append(
                    f"| {post} | {np.mean(f1):.3f} | {np.median(f1):.3f} | {np.mean([r[post]['f1_all_ones'] for r in rows]):.3f} | "
                    f"{np.mean([r[post]['detected'] for r in rows]):.3f} | {np.mean([r[post]['hole_spliced'] for r in rows]):.3f} | "
                    f"{np.mean(hc):.3f} / {np.percentile(hc, 95):.3f} |"
                )
            out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="ours,dwtDct,dwtDctSvd")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument(
        "--fpr-n", type=int, default=None, help="photos whose unmarked copies are also decoded (default all)"
    )
    ap.add_argument("--start", type=int, default=0, help="resume at this photo index (JSON lines append)")
    ap.add_argument("--localization", action="store_true")
    ap.add_argument("--speed", action="store_true", help="time ours on photos/full (large) and small photos")
    ap.add_argument("--out", default="/tmp/wm_bench.json")
    ap.add_argument("--report", nargs="+", default=None)
    ap.add_argument("--attacks", default=None, help="comma-separated subset of the attacks (default: all)")
    a = ap.parse_args()
    if a.report:
        print(report(a.report))
        return
    if not os.path.isdir(os.path.join(DATA, "photos")):
        sys.exit(f"no photos under {DATA}; set PIXELSLEUTH_DATA")
    if a.speed:
        res = run_speed()
    elif a.localization:
        res = run_localization(a.n)
    else:
        only = tuple(a.attacks.split(",")) if a.attacks else None
        if only and set(only) - set(ATTACKS + EXTRA_ATTACKS):
            sys.exit(f"unknown attacks: {', '.join(sorted(set(only) - set(ATTACKS + EXTRA_ATTACKS)))}")
        res = run_methods(
            a.methods.split(","), a.n, a.n if a.fpr_n is None else a.fpr_n, a.out, a.start, only
        )
    res["command"] = " ".join(sys.argv)
    json.dump(res, open(a.out, "w"))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
