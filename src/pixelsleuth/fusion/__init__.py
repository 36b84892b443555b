"""Fusion: combine detector evidence into scores, a fused map, a label and an explanation."""

from pixelsleuth.fusion.fuse import LABELS, Verdict, fuse

__all__ = ["LABELS", "Verdict", "fuse"]
