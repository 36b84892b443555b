"""`pixelsleuth analyze` and `pixelsleuth detectors`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pixelsleuth.detectors.base import PROFILES
from pixelsleuth.detectors.registry import all_detectors, detectors_for
from pixelsleuth.errors import PixelsleuthError
from pixelsleuth.pipeline import AnalyzeOptions, iter_inputs, run_batch, run_batch_dask
from pixelsleuth.report.writer import JsonlWriter, write_index

err = Console(stderr=True)

EXIT_OK = 0
EXIT_INPUT_ERROR = 2


def _csv(v: str | None) -> list[str] | None:
    return [x.strip() for x in v.split(",") if x.strip()] if v else None


def analyze(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders (searched recursively).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for per-image reports, maps, index.html, results.jsonl."),
    ] = None,
    profile: Annotated[str, typer.Option("--profile", "-p", help="fast | default | thorough")] = "default",
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Parallel worker processes.")] = 1,
    threads: Annotated[
        int,
        typer.Option(
            "--threads",
            min=0,
            help="Threads for one image's detectors (0 = auto: up to 2 with one worker, 1 per worker otherwise).",
        ),
    ] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON summary line per image to stdout.")
    ] = False,
    detectors: Annotated[
        str | None, typer.Option("--detectors", help="Run exactly these detectors (comma-separated).")
    ] = None,
    exclude: Annotated[
        str | None, typer.Option("--exclude", help="Skip these detectors (comma-separated).")
    ] = None,
    index: Annotated[
        Path | None,
        typer.Option("--index", help="Reference index: differences from a known original become evidence."),
    ] = None,
    watermark_key: Annotated[
        str | None,
        typer.Option(
            "--watermark-key",
            envvar="PIXELSLEUTH_WATERMARK_KEY",
            help="Key of our watermark, to map where it survives.",
        ),
    ] = None,
    max_pixels: Annotated[
        int, typer.Option("--max-pixels", help="Refuse images larger than this many pixels.")
    ] = 100_000_000,
    no_html: Annotated[bool, typer.Option("--no-html", help="Skip the per-image HTML pages.")] = False,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help="Run on Dask: 'local' (a local cluster of --workers processes) or a scheduler address.",
        ),
    ] = None,
) -> None:
    """Analyse images for manipulation and AI generation; write JSON, maps and HTML reports.

    Exit code 0 when every image was analysed, 2 when any input could not be read (the batch still finishes).
    """
    if profile not in PROFILES:
        err.print(f"[red]error:[/] unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        raise typer.Exit(EXIT_INPUT_ERROR)
    options = AnalyzeOptions(
        profile=profile,
        only=_csv(detectors),
        exclude=_csv(exclude),
        max_pixels=max_pixels,
        index_dir=str(index) if index else None,
        watermark_key=watermark_key,
        threads=threads,
    )
    try:
        detectors_for(profile, options.only, options.exclude)
        files = iter_inputs(paths, exclude_dir=out)
    except (KeyError, FileNotFoundError, ValueError) as e:
        err.print(f"[red]error:[/] {e.args[0] if e.args else e}")
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    if index is not None:
        try:
            options.context()  # open the index once here, so a bad path fails before the batch starts
        except (PixelsleuthError, OSError) as e:
            err.print(f"[red]error:[/] cannot open the reference index {index}: {e}")
            raise typer.Exit(EXIT_INPUT_ERROR) from None
    if not files:
        err.print("[red]error:[/] no images found in the given paths")
        raise typer.Exit(EXIT_INPUT_ERROR)
    rows = []
    jsonl = JsonlWriter(out / "results.jsonl") if out else None
    show_progress = err.is_terminal or os.environ.get("PIXELSLEUTH_PROGRESS") == "1"
    progress = Progress(
        TextColumn("[bold]analyze"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[name]}"),
        console=err,
        disable=not show_progress,
    )
    try:
        with progress:
            task = progress.add_task("analyze", total=len(files), name="")
            rows_iter = (
                run_batch_dask(files, options, out, scheduler=dask, workers=workers, write_html=not no_html)
                if dask
                else run_batch(files, options, out, workers=workers, write_html=not no_html)
            )
            for row in rows_iter:
                rows.append(row)
                if jsonl:
                    jsonl.write(row)
                if as_json:
                    sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
                    sys.stdout.flush()
                progress.update(task, advance=1, name=row["name"][:40])
    finally:
        if jsonl:
            jsonl.close()
        if out and rows:
            write_index(out, rows)
    n_err = sum(1 for r in rows if r["error"])
    if not as_json:
        _summary(rows, out)
    if n_err:
        err.print(
            f"[yellow]{n_err} of {len(rows)} inputs could not be analysed[/] (see the error column{' and results.jsonl' if out else ''})."
        )
        raise typer.Exit(EXIT_INPUT_ERROR)


def _summary(rows: list[dict], out: Path | None) -> None:
    console = Console()
    t = Table(title=f"pixelsleuth: {len(rows)} images")
    t.add_column("image", overflow="fold")
    t.add_column("label")
    t.add_column("manipulated", justify="right")
    t.add_column("ai_generated", justify="right")
    t.add_column("time", justify="right")
    colours = {
        "manipulated": "red",
        "ai_generated": "magenta",
        "inconclusive": "yellow",
        "no_evidence_found": "green",
    }
    for r in rows:
        if r["error"]:
            t.add_row(r["name"], "[white on red]error[/]", "", "", r["error"]["message"][:60])
            continue
        c = colours.get(r["label"], "white")
        t.add_row(
            r["name"],
            f"[{c}]{r['label']}[/]",
            f"{r['scores']['manipulated']:.2f}",
            f"{r['scores']['ai_generated']:.2f}",
            f"{r['elapsed_s']:.2f}s",
        )
    console.print(t)
    if out:
        console.print(f"Reports in [bold]{out}[/]: open {out / 'index.html'}")


def list_detectors() -> None:
    """List registered detectors, their family and the profiles they run in."""
    t = Table(title="detectors")
    for c in ("name", "version", "family", "profiles", "needs", "description"):
        t.add_column(c, overflow="fold")
    for name, cls in all_detectors().items():
        t.add_row(
            name,
            cls.version,
            cls.family.value,
            ",".join(p for p in PROFILES if p in cls.profiles),
            ",".join(sorted(cls.requires)),
            cls.description,
        )
    Console().print(t)


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
    app.command("detectors")(list_detectors)
