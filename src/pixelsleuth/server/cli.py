"""`pixelsleuth serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind (keep 127.0.0.1 unless you put a proxy in front).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    index: Annotated[Path | None, typer.Option(help="Reference index used as provenance evidence.")] = None,
    max_upload_mb: Annotated[int, typer.Option(help="Largest accepted upload.")] = 50,
    concurrency: Annotated[int, typer.Option(help="Analyses run at once.")] = 2,
) -> None:
    """Serve the REST API (/v1/analyze) and the upload page (/) on this machine."""
    try:
        import uvicorn

        from pixelsleuth.server.app import create_app
    except ImportError as e:
        typer.echo(f"error: {e}. Install with: pip install 'pixelsleuth[server]'", err=True)
        raise typer.Exit(2) from None
    app = create_app(
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        index_dir=str(index) if index else None,
        concurrency=concurrency,
    )
    uvicorn.run(app, host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
