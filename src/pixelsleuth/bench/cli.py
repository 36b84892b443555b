"""CLI: ``pixelsleuth synth``, ``pixelsleuth bench run`` and ``pixelsleuth samples``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_err = Console(stderr=True)


def _fail(msg: str) -> None:
    _err.print(f"[red]error:[/red] {msg}")
    raise typer.Exit(code=2)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=_err
    )


def synth_cmd(
    src: list[Path] = typer.Option(..., "--src", help="Folder(s) of real photos (searched recursively)."),
    out: Path = typer.Option(
        ..., "--out", help="Output folder (images/, masks/, manifest.jsonl, manifest.csv)."
    ),
    n: int = typer.Option(
        100, "--n", min=1, help="Number of forgeries; one authentic control per source photo is added."
    ),
    types: str = typer.Option(
        "", "--types", help="Comma-separated forgery types (default: all). See --list-types."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed; sample i uses SeedSequence((seed, i))."),
    fmt: str = typer.Option("png", "--format", help="Final save format: png or jpeg."),
    quality: int = typer.Option(90, "--quality", min=1, max=100, help="JPEG quality when --format jpeg."),
    split: str = typer.Option(
        "all", "--split", help="Use only source photos of this split: train, test or all."
    ),
    no_authentic: bool = typer.Option(False, "--no-authentic", help="Do not add authentic controls."),
    max_side: int = typer.Option(
        1024, "--max-side", help="Downscale photos whose long side exceeds this (0 = never)."
    ),
    list_types: bool = typer.Option(False, "--list-types", help="Print the forgery types and exit."),
) -> None:
    """Generate labelled forgeries with exact masks from real photos (reproducible, split-aware)."""
    from pixelsleuth.bench.synth import SYNTH_TYPES, synthesize

    if list_types:
        for t in SYNTH_TYPES:
            typer.echo(t)
        return
    if fmt.lower() not in ("png", "jpeg", "jpg"):
        _fail(f"--format must be png or jpeg, not {fmt!r}")
    kinds = [t.strip() for t in types.split(",") if t.strip()] or None
    try:
        with _progress() as prog:
            task = prog.add_task("synthesizing", total=n)
            rows = synthesize(
                src,
                out,
                n=n,
                types=kinds,
                seed=seed,
                fmt=fmt,
                quality=quality,
                split=split,
                authentic=not no_authentic,
                max_side=max_side or None,
                progress=lambda i, _t: prog.update(task, completed=i),
            )
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        _fail(str(e))
        return
    n_forged = sum(r["label"] for r in rows)
    typer.echo(f"wrote {len(rows)} images ({n_forged} forged, {len(rows) - n_forged} authentic) to {out}")


def samples_cmd(
    out: Path = typer.Argument(..., help="Folder to write the demo images, masks and manifest into."),
    seed: int = typer.Option(7, "--seed", help="Seed for the procedural scenes."),
) -> None:
    """Write a small deterministic demo set (authentic, spliced, copy-moved, re-saved) with masks."""
    from pixelsleuth.samples import make_samples

    try:
        rows = make_samples(out, seed=seed)
    except OSError as e:
        _fail(str(e))
        return
    typer.echo(
        f"wrote {len(rows)} demo images to {out / 'images'} (masks in {out / 'masks'}, manifest.jsonl)"
    )
    typer.echo(f"next: pixelsleuth analyze {out / 'images'} --out report")


bench_app = typer.Typer(
    help="Benchmark detectors on labelled datasets, with robustness sweeps.", no_args_is_help=True
)


@bench_app.command("run")
def run_cmd(
    dataset: Path = typer.Option(..., "--dataset", help="Manifest (CSV/JSONL) or dataset folder."),
    kind: str = typer.Option("auto", "--kind", help="auto, manifest, folder, coverage or casia."),
    detectors: str = typer.Option(
        "", "--detectors", help="Comma-separated detector names (default: all in the profile)."
    ),
    profile: str = typer.Option(
        "default", "--profile", help="Detector profile when --detectors is not given."
    ),
    perturb: str = typer.Option(
        "", "--perturb", help="Comma-separated perturbations for a robustness sweep."
    ),
    out: Path = typer.Option(Path("bench-out"), "--out", help="Output folder (CSV, Markdown, PNG plots)."),
    limit: int = typer.Option(
        0, "--limit", min=0, help="Use at most N items (0 = all), chosen evenly by label."
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    seed: int = typer.Option(0, "--seed", help="Seed for random perturbations."),
    no_fusion: bool = typer.Option(False, "--no-fusion", help="Do not score the fused output."),
    family: str = typer.Option(
        "manipulation",
        "--family",
        help="Without --detectors: detector family to run (manipulation, ai_generated, all).",
    ),
    mask_variant: str = typer.Option(
        "forged", "--coverage-mask", help="COVERAGE ground truth: forged, paste or copy."
    ),
) -> None:
    """Run detectors (and baselines, and fusion if present) on a dataset; write metrics, tables and plots."""
    from pixelsleuth.bench.datasets import DatasetError, load_dataset
    from pixelsleuth.bench.perturbations import PERTURBATIONS
    from pixelsleuth.bench.report import write_report
    from pixelsleuth.bench.runner import run_benchmark

    pert = [p.strip() for p in perturb.split(",") if p.strip()]
    unknown = [p for p in pert if p not in PERTURBATIONS]
    if unknown:
        _fail(f"unknown perturbations: {', '.join(unknown)}; known: {', '.join(PERTURBATIONS)}")
    try:
        extra = {"mask_variant": mask_variant} if kind == "coverage" else {}
        ds = load_dataset(dataset, kind=kind, limit=limit or None, **extra)
    except (DatasetError, FileNotFoundError) as e:
        _fail(str(e))
        return
    names = [d.strip() for d in detectors.split(",") if d.strip()] or None
    try:
        with _progress() as prog:
            task = prog.add_task("benchmarking", total=len(ds.items) * (1 + len(pert)))
            result = run_benchmark(
                ds,
                detectors=names,
                profile=profile,
                perturbations=pert,
                workers=workers,
                seed=seed,
                fusion=not no_fusion,
                family=family,
                progress=lambda: prog.advance(task),
            )
    except (KeyError, ValueError) as e:
        _fail(str(e).strip("'\""))
        return
    paths = write_report(result, out)
    for p in paths:
        typer.echo(str(p))


@bench_app.command("perturbations")
def perturbations_cmd() -> None:
    """List the shared attack suite: name, family, strength, geometric or not, description."""
    from pixelsleuth.bench.perturbations import PERTURBATIONS

    for name, p in PERTURBATIONS.items():
        kind = "geometric" if p.geometric else "photometric"
        typer.echo(f"{name:<13} {p.family:<12} {p.strength:<6g} {kind:<11} {p.description}")


def register(app: typer.Typer) -> None:
    app.command("synth")(synth_cmd)
    app.command("samples")(samples_cmd)
    app.add_typer(bench_app, name="bench")
