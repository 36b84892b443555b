"""False alarms of the fused verdict on authentic photos (held-apart `test` split), per profile.

    python benchmarks/false_alarms.py --data ../shared/data --n 120 --profile default --out docs/bench/false_alarms.md

Authentic = camera-original crops (photos/camera) and natural scenes (photos/bsds500) in the synthesizer's `test`
split (pixelsleuth.bench.synth.split_of), first N in name order, half from each folder. Files are analysed exactly
as stored (no re-encoding), or with ``--as-png`` decoded and saved losslessly as PNG first (same pixels), the case
the JPEG-compatibility test of the ``jpeg`` detector looks at. Reports the share labelled manipulated / ai_generated / inconclusive, the mean fraction
of pixels the fused map flags, and each detector's rate of scores >= 0.5.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np

from pixelsleuth.bench.synth import split_of
from pixelsleuth.detectors.registry import detectors_for
from pixelsleuth.io import load_image
from pixelsleuth.pipeline import AnalyzeOptions, analyze_image


def authentic_files(data: Path, n: int) -> list[Path]:
    out: list[Path] = []
    for sub in ("camera", "bsds500"):
        files = [p for p in sorted((data / "photos" / sub).glob("*.jpg")) if split_of(p) == "test"]
        out += files[: n // 2]
    return out


def _as_png(f: Path, quality: int | None = None) -> bytes:
    """The photo decoded (after one more JPEG round trip at ``quality``, if given) and saved as PNG."""
    from PIL import Image

    with Image.open(f) as im:
        rgb = im.convert("RGB")
    if quality is not None:
        jpg = io.BytesIO()
        rgb.save(jpg, format="JPEG", quality=quality)
        rgb = Image.open(io.BytesIO(jpg.getvalue())).convert("RGB")
    buf = io.BytesIO()
    rgb.save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--raw", type=Path, default=None, help="write per-image scores as JSONL (for calibration)"
    )
    ap.add_argument("--as-png", action="store_true", help="decode each photo and analyse it saved as PNG")
    ap.add_argument(
        "--jpeg-quality",
        type=int,
        default=None,
        help="with --as-png: re-encode as JPEG at this quality first",
    )
    a = ap.parse_args()
    how = ""
    if a.as_png:
        how = f", JPEG q{a.jpeg_quality} round trip, then PNG" if a.jpeg_quality else ", saved as PNG"
    flags = (" --as-png" if a.as_png else "") + (
        f" --jpeg-quality {a.jpeg_quality}" if a.jpeg_quality else ""
    )
    files = authentic_files(a.data, a.n)
    opts = AnalyzeOptions(profile=a.profile)
    dets = detectors_for(a.profile)
    labels: dict[str, int] = {}
    areas, per_det = [], {}
    raw = open(a.raw, "w") if a.raw else None  # noqa: SIM115
    for i, f in enumerate(files):
        rep = analyze_image(load_image(_as_png(f, a.jpeg_quality) if a.as_png else f), opts, detectors=dets)
        labels[rep.label] = labels.get(rep.label, 0) + 1
        areas.append(0.0 if rep.map is None else float((rep.map >= 0.5).mean()))
        row = {"file": f.name, "label": rep.label, "scores": rep.scores, "area": areas[-1], "detectors": {}}
        for ev in rep.evidence:
            if ev.score is not None and not ev.skipped:
                per_det.setdefault(ev.detector, []).append(ev.score)
                row["detectors"][ev.detector] = {
                    "score": ev.score,
                    **{k: v for k, v in ev.extra.items() if k in ("manipulated", "ai_generated")},
                }
        if raw:
            raw.write(json.dumps(row) + "\n")
        print(f"{i + 1}/{len(files)} {f.name} {rep.label} {rep.scores}", flush=True)
    if raw:
        raw.close()
    n = len(files)
    lines = [
        f"Authentic photos: {n} ({a.profile} profile{how}). Target: <= 5% labelled manipulated, "
        "mean flagged area < 2%.",
        "",
        "| label | share |",
        "|---|---|",
    ]
    for k in ("no_evidence_found", "inconclusive", "manipulated", "ai_generated"):
        lines.append(f"| {k} | {labels.get(k, 0) / n:.1%} |")
    lines += [
        "",
        f"Mean fraction of pixels flagged by the fused map: {np.mean(areas):.2%} (median {np.median(areas):.2%}).",
        "",
    ]
    lines += ["| detector | images with score >= 0.5 | mean score |", "|---|---|---|"]
    for k, v in sorted(per_det.items()):
        v = np.asarray(v)
        lines.append(f"| {k} | {(v >= 0.5).mean():.1%} | {v.mean():.3f} |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(
            f"## False alarms on authentic photos ({a.profile} profile{how})\n\n"
            f"Command: `python benchmarks/false_alarms.py --data ../shared/data --n {a.n} --profile {a.profile}"
            f"{flags} --out {a.out}`\n\n" + text + "\n"
        )


if __name__ == "__main__":
    main()
