"""Turn the JSON lines written by manip_noise_jpeg_eval.py into the Markdown tables of docs/bench/noise_jpeg.md.

python benchmarks/manip_noise_jpeg_table.py /tmp/manip_jpeg_dq_test_default.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import numpy as np
from sklearn.metrics import roc_auc_score


def table(path: str) -> str:
    rows = [json.loads(line) for line in open(path)]
    by: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by[r["kind"]].append(r)

    def mean(rs: list[dict], key: str) -> str:
        v = [r[key] for r in rs if key in r and r[key] == r[key]]
        return f"{np.mean(v):.3f}" if v else "–"

    out = [
        "| kind | n | score>0.5 | flag% | pixel AUC | best F1 | F1@0.5 | all-ones F1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in sorted(by):
        rs = by[k]
        sc = np.array([r["score"] or 0.0 for r in rs])
        flag = [r["flagged"] for r in rs if "flagged" in r]
        out.append(
            f"| {k} | {len(rs)} | {np.mean(sc > 0.5):.3f} | {100 * np.mean(flag):.2f} | {mean(rs, 'auc')} | "
            f"{mean(rs, 'best_f1')} | {mean(rs, 'f1_05')} | {mean(rs, 'ones_f1')} |"
        )
    y = np.array([r["forged"] for r in rows])
    s = np.array([r["score"] or 0.0 for r in rows])
    auth_flag = [r["flagged"] for r in rows if not r["forged"] and "flagged" in r]
    fa = [r for r in rows if r["forged"]]
    line = (
        f"\nOverall: image AUC {roc_auc_score(y, s):.3f} (constant-score baseline 0.5); TPR@0.5 "
        f"{np.mean(s[y] > 0.5):.3f}; FPR@0.5 {np.mean(s[~y] > 0.5):.3f}; mean flagged area on authentic "
        f"{100 * np.mean(auth_flag):.2f}% (all-ones baseline 100%); forged: mean pixel AUC "
        f"{np.nanmean([r.get('auc', np.nan) for r in fa]):.3f}, mean best F1 "
        f"{np.mean([r.get('best_f1', 0.0) for r in fa]):.3f} (all-ones "
        f"{np.mean([r.get('ones_f1', 0.0) for r in fa]):.3f}); wall s/MP (loaded machine) "
        f"{np.median([r['s_per_mp'] for r in rows]):.2f}."
    )
    return "\n".join(out) + "\n" + line


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(table(p))
        print()
