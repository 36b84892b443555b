"""Image intake: ``load_image(path_or_bytes)`` -> :class:`ImageData`."""

from pixelsleuth.io.image import ImageData, JpegData, MetadataBlocks
from pixelsleuth.io.loader import IntakeLimits, load_image, sniff_format

__all__ = ["ImageData", "IntakeLimits", "JpegData", "MetadataBlocks", "load_image", "sniff_format"]
