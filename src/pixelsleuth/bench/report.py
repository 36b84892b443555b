"""Benchmark output: per-image CSV, summary CSV, Markdown tables and robustness plots (matplotlib Agg)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelsleuth.bench.metrics import image_metrics, summarize, time_per_megapixel
from pixelsleuth.bench.perturbations import PERTURBATIONS
from pixelsleuth.bench.runner import BenchResult

SUMMARY_FIELDS = (
    "condition",
    "method",
    "n_scored",
    "n_pos",
    "n_neg",
    "auc",
    "ap",
    "bal_acc",
    "tpr_at_fpr1",
    "tpr_at_fpr5",
    "n_pix",
    "f1",
    "f1_best",
    "iou",
    "mcc",
    "pixel_auc",
    "fp_area",
    "n_both",
    "f1_both",
    "f1_best_both",
    "s_per_mp",
    "peak_mb",
    "n_skipped",
)

RECORD_FIELDS = (
    "item",
    "group",
    "label",
    "type",
    "condition",
    "method",
    "score",
    "has_map",
    "f1",
    "f1_best",
    "f1_best_threshold",
    "iou",
    "mcc",
    "pixel_auc",
    "fp_area",
    "f1_both",
    "f1_best_both",
    "elapsed_s",
    "megapixels",
    "skipped",
    "error",
)


def summary_rows(result: BenchResult, by_type: bool = False) -> list[dict[str, Any]]:
    """One row per (condition, method) [and forgery type when ``by_type``: authentic images are shared by all
    types for the image-level metrics]."""
    rows: list[dict[str, Any]] = []
    recs = [r for r in result.records if r.get("method") not in (None, "*")]
    types = sorted({str(r.get("type") or "") for r in recs if r.get("label") == 1}) if by_type else [""]
    for cond in result.conditions:
        for method in result.methods:
            sel_all = [r for r in recs if r["condition"] == cond and r["method"] == method]
            for t in types:
                sel = [r for r in sel_all if (not t) or r.get("label") == 0 or r.get("type") == t]
                if not sel:
                    continue
                scored = [r for r in sel if r.get("score") is not None and r.get("label") in (0, 1)]
                s = [float(r["score"]) for r in scored]
                y = [int(r["label"]) for r in scored]
                im = (
                    image_metrics(s, y)
                    if scored
                    else dict.fromkeys(("auc", "ap", "bal_acc", "tpr_at_fpr1", "tpr_at_fpr5"), math.nan)
                )
                pos = [r for r in sel if r.get("label") == 1]
                f1, n_pix = summarize(pos, "f1")
                row: dict[str, Any] = {
                    "condition": cond,
                    "method": method,
                    "n_scored": len(scored),
                    "n_pos": sum(y),
                    "n_neg": len(y) - sum(y),
                    **im,
                    "n_pix": n_pix,
                    "f1": f1,
                    "f1_best": summarize(pos, "f1_best")[0],
                    "iou": summarize(pos, "iou")[0],
                    "mcc": summarize(pos, "mcc")[0],
                    "pixel_auc": summarize(pos, "pixel_auc")[0],
                    "fp_area": summarize([r for r in sel if r.get("label") == 0], "fp_area")[0],
                    "n_both": summarize(pos, "f1_both")[1],
                    "f1_both": summarize(pos, "f1_both")[0],
                    "f1_best_both": summarize(pos, "f1_best_both")[0],
                    "s_per_mp": time_per_megapixel(
                        [float(r.get("elapsed_s") or 0) for r in sel if not r.get("skipped")],
                        [float(r.get("megapixels") or 0) for r in sel if not r.get("skipped")],
                    ),
                    "peak_mb": (result.peak_memory[method] / 2**20)
                    if method in result.peak_memory
                    else math.nan,
                    "n_skipped": sum(1 for r in sel if r.get("skipped")),
                }
                if by_type:
                    row["type"] = t
                rows.append(row)
    return rows


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        return f"{v:.{digits}f}"
    return str(v)


def markdown_table(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> str:
    head = "| " + " | ".join(fields) + " |"
    sep = "|" + "|".join("---" if f in ("condition", "method", "type") else "---:" for f in fields) + "|"
    body = ["| " + " | ".join(_fmt(r.get(f)) for f in fields) + " |" for r in rows]
    return "\n".join([head, sep, *body])


_MD_FIELDS = (
    "condition",
    "method",
    "n_scored",
    "auc",
    "ap",
    "bal_acc",
    "tpr_at_fpr5",
    "n_pix",
    "f1",
    "f1_best",
    "iou",
    "mcc",
    "pixel_auc",
    "fp_area",
    "s_per_mp",
    "peak_mb",
)


def _md_fields(rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    if any(r.get("n_both") for r in rows):  # copy-move data with source masks
        i = _MD_FIELDS.index("fp_area") + 1
        return (*_MD_FIELDS[:i], "f1_both", "f1_best_both", *_MD_FIELDS[i:])
    return _MD_FIELDS


def markdown_report(result: BenchResult) -> str:
    rows = summary_rows(result)
    cfg = result.config
    lines = [
        f"# Benchmark: {result.dataset} ({result.kind})",
        "",
        f"Detectors: {', '.join(cfg.detectors) or '(none)'}; profile {cfg.profile}; seed {cfg.seed}; "
        f"perturbations: {', '.join(cfg.perturbations) or 'none'}.",
        "Image level: auc, ap, bal_acc (score >= 0.5), tpr_at_fpr5. Pixel level (forged images with a usable mask, "
        "mean over n_pix images): f1 at 0.5, f1_best (per-image oracle threshold), iou, mcc, pixel_auc; fp_area = "
        "share of authentic pixels flagged. s_per_mp = seconds per megapixel; peak_mb = tracemalloc peak. "
        "Definitions: docs/metrics.md.",
        "",
        markdown_table(rows, _md_fields(rows)),
        "",
    ]
    bt = [r for r in summary_rows(result, by_type=True) if r["condition"] == "clean" and r.get("type")]
    if len({r["type"] for r in bt}) > 1:
        lines += [
            "## Clean, by forgery type (authentic images shared)",
            "",
            markdown_table(bt, ("type", "method", "n_pos", "auc", "n_pix", "f1", "f1_best", "iou")),
            "",
        ]
    if result.skipped_reasons:
        lines += ["## Skipped", ""]
        for m, reasons in result.skipped_reasons.items():
            for reason, n in reasons.items():
                lines.append(f"- {m}: {n} x {reason}")
        lines.append("")
    if result.errors:
        lines += [f"## Errors ({len(result.errors)})", ""]
        lines += [f"- {i}: {msg}" for i, msg in result.errors[:50]]
        if len(result.errors) > 50:
            lines.append(f"- ... and {len(result.errors) - 50} more (see records.csv)")
        lines.append("")
    return "\n".join(lines)


_CLEAN_AT = {"jpeg": 100.0, "resize": 1.0, "blur": 0.0, "noise": 0.0, "crop": 1.0}


def plot_robustness(result: BenchResult, out: Path, metrics: Sequence[str] = ("auc", "f1")) -> list[Path]:
    """One PNG per (perturbation family with a strength axis, metric): metric vs strength, a line per method;
    plus one grouped bar chart per metric over every condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary_rows(result)
    paths: list[Path] = []
    fams: dict[str, list[str]] = {}
    for c in result.conditions[1:]:
        fams.setdefault(PERTURBATIONS[c].family, []).append(c)
    for metric in metrics:
        for fam, conds in fams.items():
            if fam not in _CLEAN_AT:
                continue
            fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=110)
            for m in result.methods:
                pts = [(_CLEAN_AT[fam], _get(rows, "clean", m, metric))]
                pts += [(float(PERTURBATIONS[c].strength), _get(rows, c, m, metric)) for c in conds]
                pts = sorted((x, y) for x, y in pts if math.isfinite(y))
                if pts:
                    ax.plot(
                        *zip(*pts, strict=True),
                        marker="o",
                        label=m,
                        linestyle="--" if m == "baseline" else "-",
                    )
            ax.set_xlabel(
                {
                    "jpeg": "JPEG quality (100 = clean)",
                    "resize": "scale factor",
                    "blur": "blur sigma",
                    "noise": "noise sd",
                    "crop": "area kept",
                }[fam]
            )
            ax.set_ylabel(metric)
            ax.set_title(f"{result.dataset}: {metric} vs {fam}")
            ax.grid(alpha=0.3)
            if any(not str(ln.get_label()).startswith("_") for ln in ax.get_lines()):
                ax.legend(fontsize=7)
            fig.tight_layout()
            p = out / f"robustness_{fam}_{metric}.png"
            fig.savefig(p)
            plt.close(fig)
            paths.append(p)
        if len(result.conditions) > 1:
            fig, ax = plt.subplots(
                figsize=(max(6.0, 0.9 * len(result.conditions) * max(1, len(result.methods)) / 2), 3.8),
                dpi=110,
            )
            w = 0.8 / max(1, len(result.methods))
            xs = np.arange(len(result.conditions))
            for k, m in enumerate(result.methods):
                ys = [_get(rows, c, m, metric) for c in result.conditions]
                ax.bar(xs + k * w, [y if math.isfinite(y) else 0 for y in ys], width=w, label=m)
            ax.set_xticks(xs + 0.4 - w / 2, result.conditions, rotation=30, ha="right", fontsize=8)
            ax.set_ylabel(metric)
            ax.set_title(f"{result.dataset}: {metric} per condition")
            if not all(m.startswith("_") for m in result.methods):
                ax.legend(fontsize=7)
            fig.tight_layout()
            p = out / f"conditions_{metric}.png"
            fig.savefig(p)
            plt.close(fig)
            paths.append(p)
    return paths


_IMAGE_LEVEL = ("auc", "ap", "bal_acc", "tpr_at_fpr1", "tpr_at_fpr5")
MIN_PLOT_N = 10  # points from fewer scored images are not plotted


def _get(rows: Sequence[dict[str, Any]], cond: str, method: str, metric: str) -> float:
    for r in rows:
        if r["condition"] == cond and r["method"] == method:
            n = r.get("n_scored" if metric in _IMAGE_LEVEL else "n_pix") or 0
            if n < MIN_PLOT_N:
                return math.nan
            v = r.get(metric)
            return float(v) if v is not None else math.nan
    return math.nan


def _versions(names: Sequence[str]) -> dict[str, str]:
    from pixelsleuth.detectors.registry import all_detectors

    known = all_detectors()
    return {n: str(known[n].version) for n in names if n in known}


def _git_state() -> dict[str, Any]:
    """Commit and dirty flag of the source tree the benchmark ran from (empty outside a git checkout)."""
    import subprocess

    root = Path(__file__).resolve().parents[3]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if head.returncode != 0:
        return {}
    return {"commit": head.stdout.strip(), "src_dirty": bool(dirty.stdout.strip())}


def write_report(result: BenchResult, out: str | Path) -> list[Path]:
    """Write records.csv, summary.csv, summary.md, run.json and plots into ``out``; return the paths."""
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    p = o / "records.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(RECORD_FIELDS), extrasaction="ignore")
        wr.writeheader()
        for r in result.records:
            wr.writerow({k: r.get(k, "") for k in RECORD_FIELDS})
    paths.append(p)
    p = o / "summary.csv"
    rows = summary_rows(result)
    with open(p, "w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(SUMMARY_FIELDS))
        wr.writeheader()
        for r in rows:
            wr.writerow(
                {k: (_fmt(r.get(k), 4) if isinstance(r.get(k), float) else r.get(k)) for k in SUMMARY_FIELDS}
            )
    paths.append(p)
    bt = [r for r in summary_rows(result, by_type=True) if r.get("type")]
    if bt:
        p = o / "summary_by_type.csv"
        with open(p, "w", newline="", encoding="utf-8") as fh:
            wr = csv.DictWriter(fh, fieldnames=["type", *SUMMARY_FIELDS])
            wr.writeheader()
            for r in bt:
                wr.writerow(
                    {
                        k: (_fmt(r.get(k), 4) if isinstance(r.get(k), float) else r.get(k))
                        for k in ["type", *SUMMARY_FIELDS]
                    }
                )
        paths.append(p)
    p = o / "summary.md"
    p.write_text(markdown_report(result), encoding="utf-8")
    paths.append(p)
    p = o / "run.json"
    cfg = result.config
    p.write_text(
        json.dumps(
            {
                "dataset": result.dataset,
                "kind": result.kind,
                "detectors": cfg.detectors,
                "profile": cfg.profile,
                "perturbations": cfg.perturbations,
                "seed": cfg.seed,
                "fusion": cfg.fusion,
                "methods": result.methods,
                "n_records": len(result.records),
                "errors": result.errors,
                "skipped": result.skipped_reasons,
                "peak_memory_bytes": result.peak_memory,
                "detector_versions": _versions(cfg.detectors),
                "git": _git_state(),
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    paths.append(p)
    paths += plot_robustness(result, o)
    return paths
