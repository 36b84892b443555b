"""CLI: ``pixelsleuth index create|add|remove|stats|compact|import-pdq|export-pdq`` and ``pixelsleuth search``."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pixelsleuth.errors import IntakeError, PixelsleuthError

_err = Console(stderr=True, soft_wrap=True)
_out = Console()
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif", ".avif"}

index_app = typer.Typer(help="Build and maintain a reference index of known originals.", no_args_is_help=True)


def _fail(msg: str) -> None:
    _err.print(f"[red]error:[/red] {msg}")
    raise typer.Exit(code=2)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=_err
    )


def _open(path: Path, writable: bool):  # noqa: ANN202
    from pixelsleuth.provenance.index import ReferenceIndex

    try:
        return ReferenceIndex.open(path, writable=writable)
    except PixelsleuthError as e:
        _fail(str(e))
        raise  # unreachable


def collect_inputs(paths: list[Path], manifest: Path | None = None) -> list[tuple[Path, list[str]]]:
    """Files from paths (folders searched recursively for images) and a manifest (one path per line, or a CSV
    with a ``path`` column and an optional ``tags`` column of ``;``-separated tags; relative to the manifest)."""
    out: list[tuple[Path, list[str]]] = []
    for p in paths:
        if p.is_dir():
            out.extend((f, []) for f in sorted(p.rglob("*")) if f.is_file() and f.suffix.lower() in IMAGE_EXT)
        elif p.exists():
            out.append((p, []))
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    if manifest is not None:
        if not manifest.exists():
            raise FileNotFoundError(f"no such manifest: {manifest}")
        text = manifest.read_text(encoding="utf-8").splitlines()
        if text and "path" in [c.strip() for c in text[0].replace("\t", ",").split(",")]:
            delim = "\t" if "\t" in text[0] else ","
            for row in csv.DictReader(text, delimiter=delim):
                f = Path(row["path"])
                f = f if f.is_absolute() else manifest.parent / f
                tags = [t for t in (row.get("tags") or "").split(";") if t]
                out.append((f, tags))
        else:
            for line in text:
                line = line.strip()
                if line and not line.startswith("#"):
                    f = Path(line)
                    out.append((f if f.is_absolute() else manifest.parent / f, []))
    return out


@index_app.command("create")
def create_cmd(
    directory: Path = typer.Argument(..., help="Folder for the new index."),
    descriptor: str | None = typer.Option(
        None,
        "--descriptor",
        help="Global descriptor: mnv2-v1 (trained, the default when installed) or dctgrid-v1 (hand-built).",
    ),
) -> None:
    """Create an empty reference index."""
    from pixelsleuth.provenance.index import ReferenceIndex

    try:
        ReferenceIndex.create(directory, descriptor_kind=descriptor).close()
    except PixelsleuthError as e:
        _fail(str(e))
    _out.print(f"created reference index {directory}")


@index_app.command("add")
def add_cmd(
    directory: Path = typer.Argument(..., help="The index folder."),
    paths: list[Path] = typer.Argument(None, help="Images or folders (searched recursively)."),
    manifest: Path | None = typer.Option(
        None, "--manifest", help="Text file of paths, or CSV with path[,tags]."
    ),
    tag: list[str] = typer.Option([], "--tag", help="Tag/bank for every added reference (repeatable)."),
    no_thumbnails: bool = typer.Option(
        False, "--no-thumbnails", help="Do not keep reference pixels (no difference maps; smaller index)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON line per committed reference."),
) -> None:
    """Add reference images. Each reference is committed on its own; an interrupted run keeps what it reported."""
    from pixelsleuth.io import load_image

    try:
        inputs = collect_inputs(list(paths or []), manifest)
    except FileNotFoundError as e:
        _fail(str(e))
        return
    if not inputs:
        _fail("nothing to add: give image files, folders or --manifest")
    ix = _open(directory, writable=True)
    failed = 0
    added = 0
    try:
        with _progress() as prog:
            task = prog.add_task("adding", total=len(inputs))
            for i, (f, tags) in enumerate(inputs):
                try:
                    img = load_image(f)
                    rid = ix.add(
                        img.rgb, str(f.resolve()), img.sha256, list(tag) + tags, thumbnail=not no_thumbnails
                    )
                    added += 1
                    if json_out:
                        print(json.dumps({"id": rid, "uri": str(f), "sha256": img.sha256}), flush=True)
                except IntakeError as e:
                    failed += 1
                    _err.print(f"[yellow]skipped[/yellow] {f}: {e}")
                if (i + 1) % 1000 == 0:
                    ix.save_snapshot()
                prog.advance(task)
        ix.save_snapshot()
    finally:
        ix.close()
    _err.print(f"added {added} reference(s); {failed} file(s) could not be read")
    if failed:
        raise typer.Exit(code=2)


@index_app.command("remove")
def remove_cmd(
    directory: Path = typer.Argument(..., help="The index folder."),
    ids: list[int] = typer.Argument(None, help="Reference ids to remove."),
    uri: list[str] = typer.Option([], "--uri", help="Remove references with this source URI (repeatable)."),
    sha256: list[str] = typer.Option(
        [], "--sha256", help="Remove references with this SHA-256 (repeatable)."
    ),
) -> None:
    """Remove references by id, URI or SHA-256."""
    ix = _open(directory, writable=True)
    try:
        targets = set(ids or [])
        for u in uri:
            targets.update(int(r[0]) for r in ix.db.execute("SELECT id FROM refs WHERE uri=?", (u,)))
        for s in sha256:
            targets.update(
                int(r[0]) for r in ix.db.execute("SELECT id FROM refs WHERE sha256=?", (s.lower(),))
            )
        n = ix.remove(sorted(targets))
        ix.save_snapshot()
    finally:
        ix.close()
    _out.print(f"removed {n} reference(s)")


@index_app.command("stats")
def stats_cmd(
    directory: Path = typer.Argument(..., help="The index folder."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Size and content of an index."""
    ix = _open(directory, writable=False)
    try:
        st = ix.stats()
    finally:
        ix.close()
    if json_out:
        print(json.dumps(st, indent=2))
        return
    t = Table(show_header=False)
    for k, v in st.items():
        t.add_row(k, json.dumps(v) if isinstance(v, dict) else str(v))
    _out.print(t)


@index_app.command("compact")
def compact_cmd(directory: Path = typer.Argument(..., help="The index folder.")) -> None:
    """Rebuild the search structures (flat or IVF-PQ by size), drop the change log, reclaim space."""
    ix = _open(directory, writable=True)
    try:
        st = ix.compact()
    finally:
        ix.close()
    _out.print(
        f"compacted: {st['references']} references, descriptor index {st['descriptor_index']}, "
        f"{st['bytes_total']} bytes"
    )


@index_app.command("export-pdq")
def export_pdq_cmd(
    directory: Path = typer.Argument(..., help="The index folder."),
    out: Path = typer.Argument(..., help="CSV to write (- for stdout)."),
) -> None:
    """Export PDQ hashes as CSV: pdq_hex,quality,id,uri,tags."""
    ix = _open(directory, writable=False)
    try:
        fh = sys.stdout if str(out) == "-" else open(out, "w", newline="", encoding="utf-8")  # noqa: SIM115
        try:
            w = csv.writer(fh)
            w.writerow(["pdq", "quality", "id", "uri", "tags"])
            n = 0
            for r in ix.references():
                if r.pdq:
                    w.writerow([r.pdq.hex(), r.pdq_quality, r.id, r.uri, ";".join(r.tags)])
                    n += 1
        finally:
            if fh is not sys.stdout:
                fh.close()
    finally:
        ix.close()
    _err.print(f"exported {n} hash(es)")


@index_app.command("import-pdq")
def import_pdq_cmd(
    directory: Path = typer.Argument(..., help="The index folder."),
    src: Path = typer.Argument(
        ...,
        help="CSV with a pdq column (hex) and optional quality, uri, tags; or lines 'hex[,quality[,uri]]'.",
    ),
    tag: list[str] = typer.Option([], "--tag", help="Tag/bank for every imported hash (repeatable)."),
) -> None:
    """Import a PDQ hash list (hash-only references, matched by PDQ distance)."""
    if not src.exists():
        _fail(f"no such file: {src}")
    rows = list(csv.reader(src.read_text(encoding="utf-8").splitlines()))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if "pdq" in header:
        col = {k: header.index(k) for k in ("pdq", "quality", "uri", "tags") if k in header}
        rows = rows[1:]
    else:
        col = {"pdq": 0, "quality": 1, "uri": 2}
    ix = _open(directory, writable=True)
    n = bad = 0
    try:
        for i, row in enumerate(rows):
            if not row or not row[0].strip() or row[0].startswith("#"):
                continue
            try:
                hexs = row[col["pdq"]]
                q = (
                    int(row[col["quality"]])
                    if "quality" in col and len(row) > col["quality"] and row[col["quality"]]
                    else 100
                )
                uri = row[col["uri"]] if "uri" in col and len(row) > col["uri"] else f"{src.name}:{i + 1}"
                tags = list(tag) + (
                    [t for t in row[col["tags"]].split(";") if t]
                    if "tags" in col and len(row) > col["tags"]
                    else []
                )
                ix.add_hash(hexs, uri, q, tags)
                n += 1
            except (ValueError, IndexError) as e:
                bad += 1
                _err.print(f"[yellow]line {i + 1} skipped[/yellow]: {e}")
        ix.save_snapshot()
    finally:
        ix.close()
    _out.print(f"imported {n} hash(es); {bad} line(s) skipped")
    if bad and not n:
        raise typer.Exit(code=2)


def search_cmd(
    images: list[Path] = typer.Argument(..., help="Query images."),
    index: Path = typer.Option(..., "--index", help="The reference index folder."),
    top_k: int = typer.Option(5, "--top-k", min=1, max=100, help="Matches to report per query."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per query (JSON lines)."),
    no_localize: bool = typer.Option(
        False, "--no-localize", help="Skip the aligned difference maps (faster)."
    ),
) -> None:
    """Is this image a copy of a known reference? Ranked matches with copy probability and matched region."""
    from pixelsleuth.io import load_image
    from pixelsleuth.provenance.search import search

    ix = _open(index, writable=False)
    failed = 0
    try:
        with _progress() as prog:
            task = prog.add_task("searching", total=len(images), visible=len(images) > 1 and not json_out)
            for f in images:
                try:
                    img = load_image(f)
                except (IntakeError, OSError) as e:
                    failed += 1
                    if json_out:
                        print(json.dumps({"query": str(f), "error": str(e)}), flush=True)
                    else:
                        _err.print(f"[red]error:[/red] {f}: {e}")
                    prog.advance(task)
                    continue
                res = search(ix, img.rgb, top_k=top_k, localize=not no_localize)
                if json_out:
                    print(json.dumps({"query": str(f), **res.to_dict()}), flush=True)
                else:
                    _print_result(str(f), res)
                prog.advance(task)
    finally:
        ix.close()
    if failed:
        raise typer.Exit(code=2)


def _print_result(name: str, res) -> None:  # noqa: ANN001
    t = Table(title=name)
    for c in ("rank", "copy prob.", "reference", "inliers", "PDQ dist.", "changed"):
        t.add_column(c)
    for i, m in enumerate(res.matches, 1):
        ch = "" if m.difference is None else f"{100 * m.difference.changed_fraction:.1f}%"
        style = "bold green" if m.confirmed else "dim"
        t.add_row(
            str(i),
            f"{m.copy_probability:.3f}",
            m.ref.uri,
            str(m.inliers),
            "" if m.pdq_distance is None else str(m.pdq_distance),
            ch,
            style=style,
        )
    _out.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
    app.command("search")(search_cmd)
