"""Shared fixtures. Tests make their own images; ../shared/data is used only where a test says so and skips without it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import encode, photo_like  # noqa: E402

SHARED_DATA = Path(
    os.environ.get("PIXELSLEUTH_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture
def jpeg_bytes() -> bytes:
    return encode(photo_like(), "JPEG", quality=90)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA
