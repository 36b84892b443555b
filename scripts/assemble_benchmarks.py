"""Rebuild docs/benchmarks.md from the section files in docs/bench/ (each written by a benchmark script or by hand
with the command behind every number). Run: python scripts/assemble_benchmarks.py"""

from __future__ import annotations

from pathlib import Path

ORDER = [
    "summary.md",
    "analyze_speed.md",
    "false_alarms.md",
    "false_alarms_png.md",
    "false_alarms_png_q75.md",
    "harness.md",
    "ela.md",
    "noise_jpeg.md",
    "copymove.md",
    "ai_generated.md",
    "copy_detection.md",
    "watermark.md",
]

HEADER = """# Benchmarks

Every number here was measured on the project's 2-core development machine with the command shown beside it, on the
development data folder (`../shared/data`, not shipped; see its README for sources and terms). Each table sits beside
a trivial baseline (an all-ones map for pixel metrics, a constant score for AUC = 0.5). Where a target from the
issues is not met, the table says so. Regenerate this page with `python scripts/assemble_benchmarks.py` after
re-running the scripts.

"""


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    sec = root / "docs" / "bench"
    files = sorted(sec.glob("*.md"), key=lambda p: (ORDER.index(p.name) if p.name in ORDER else len(ORDER), p.name))
    body = HEADER + "\n\n".join(p.read_text().strip() + "\n" for p in files)
    (root / "docs" / "benchmarks.md").write_text(body)
    print(f"docs/benchmarks.md: {len(files)} sections")


if __name__ == "__main__":
    main()
