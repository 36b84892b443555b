"""The ``pixelsleuth`` command line.

Each area contributes its commands from its own module: a module ``pixelsleuth.<area>.cli`` that defines
``register(app: typer.Typer) -> None`` is mounted automatically (see ``_AREAS``).
"""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(
    name="pixelsleuth",
    help="Image integrity and provenance: was it edited, is it AI-generated, is it a known copy, is it marked?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_AREAS = (
    "pixelsleuth.analyze_cli",
    "pixelsleuth.bench.cli",
    "pixelsleuth.models.cli",
    "pixelsleuth.provenance.cli",
    "pixelsleuth.watermark.cli",
    "pixelsleuth.server.cli",
)


def _mount() -> None:
    for modname in _AREAS:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:
                continue
            raise
        mod.register(app)


_mount()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
