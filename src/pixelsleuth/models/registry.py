"""Model registry placeholder API used by detectors; the full registry (cards, fetch, verify) lives here too."""

from __future__ import annotations


def model_available(name: str) -> bool:
    """True when the named registry model is in the cache and verifies."""
    return False
