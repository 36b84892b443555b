"""Average two CNNs' out-of-fold logits (files written by ``ai_cnn_train.py``) into one ``cnn_oof.npz``.

    python benchmarks/ai_cnn_mean.py A/cnn_oof.npz B/cnn_oof.npz /tmp/AIE
    python benchmarks/ai_train.py --no-write --cache /tmp/AIE

Each network's logits are standardised per fold with its own real-photo training statistics (``stats_<g>_<h>``)
and averaged; the written statistics are (0, 1). The artifact and CLIP feature files of ``A``'s folder are linked
beside the output, so ``ai_train.py`` sees the same items. An experiment (docs/bench/ai_generated.md), not shipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("out", type=Path, help="output folder")
    args = ap.parse_args()
    a, b = dict(np.load(args.a)), dict(np.load(args.b))
    if not np.array_equal(a["paths"], b["paths"]):
        raise SystemExit("the two files list different items")
    out = {k: a[k] for k in ("paths", "steps", "seed")}
    for key in a:
        if not key.startswith("stats_"):
            continue
        fold = key[len("stats_") :]
        if not np.array_equal(a[f"test_{fold}"], b[f"test_{fold}"]):
            raise SystemExit(f"fold {fold}: the two files test different items")
        out[f"test_{fold}"] = a[f"test_{fold}"]
        out[key] = np.array([0.0, 1.0])
        (ma, sa), (mb, sb) = a[key], b[key]
        for cond in ("clean", "jpeg75", "social", "swap"):
            za = (a[f"oof_{fold}_{cond}"] - ma) / sa
            zb = (b[f"oof_{fold}_{cond}"] - mb) / sb
            out[f"oof_{fold}_{cond}"] = ((za + zb) / 2).astype(np.float32)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / "cnn_oof.tmp.npz"
    np.savez(tmp, **out)
    tmp.replace(args.out / "cnn_oof.npz")
    for f in sorted(args.a.parent.glob("feats_*.npz")):
        link = args.out / f.name
        if not link.exists():
            link.symlink_to(f.resolve())
    print(f"wrote {args.out / 'cnn_oof.npz'}")


if __name__ == "__main__":
    main()
