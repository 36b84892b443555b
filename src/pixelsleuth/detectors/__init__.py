"""Detectors: one module per family. Every module in this package is imported on first use, so adding a
detector means adding a module with a ``@register``-decorated class and nothing else."""

from pixelsleuth.detectors.base import (
    PROFILES,
    Context,
    Detector,
    Evidence,
    Family,
    Finding,
    Severity,
    Supports,
)
from pixelsleuth.detectors.registry import all_detectors, detectors_for, get_detector, register

__all__ = [
    "PROFILES",
    "Context",
    "Detector",
    "Evidence",
    "Family",
    "Finding",
    "Severity",
    "Supports",
    "all_detectors",
    "detectors_for",
    "get_detector",
    "register",
]
