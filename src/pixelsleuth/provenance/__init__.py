"""Copy detection against a reference index: perceptual hashes, descriptors, the index, search, localization."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pixelsleuth.provenance.index import ReferenceIndex


def open_index(path: str | Path, readonly: bool = True) -> ReferenceIndex:
    """Open a reference index directory (read-only by default: readers never block a writer)."""
    from pixelsleuth.provenance.index import ReferenceIndex

    return ReferenceIndex.open(path, writable=not readonly)


__all__ = ["open_index"]
