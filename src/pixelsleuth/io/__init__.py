"""Image intake: ``load_image(path_or_bytes)`` -> :class:`ImageData`."""

from pixelsleuth.io.image import ImageData, JpegData, MetadataBlocks
from pixelsleuth.io.loader import SUPPORTED_FORMATS, IntakeLimits, apply_orientation, load_image, sniff_format

__all__ = [
    "SUPPORTED_FORMATS",
    "ImageData",
    "IntakeLimits",
    "JpegData",
    "MetadataBlocks",
    "apply_orientation",
    "load_image",
    "sniff_format",
]
