"""Typed errors. Every error a user can trigger with a file is an ``IntakeError`` subclass with a
message a person understands; the CLI maps these to exit code 2 and an ``error`` entry in batch output."""

from __future__ import annotations


class PixelsleuthError(Exception):
    """Base class for all errors raised on purpose by pixelsleuth."""

    code = "error"


class IntakeError(PixelsleuthError):
    """The input could not be turned into an image."""

    code = "intake_error"


class EmptyFileError(IntakeError):
    code = "empty_file"


class UnsupportedFormatError(IntakeError):
    code = "unsupported_format"


class CorruptImageError(IntakeError):
    code = "corrupt_image"


class TruncatedImageError(CorruptImageError):
    code = "truncated_image"


class ImageTooLargeError(IntakeError):
    """Declared or decoded size exceeds the configured pixel limit (also decompression bombs)."""

    code = "image_too_large"


class FileTooLargeError(IntakeError):
    code = "file_too_large"


class ModelUnavailableError(PixelsleuthError):
    """A registry model is missing or failed verification; the message says how to fix it."""

    code = "model_unavailable"


class IndexError_(PixelsleuthError):  # noqa: N801 - avoid shadowing builtin IndexError
    code = "index_error"


class ImageReadError(IntakeError):
    """The path does not exist, is a directory, or cannot be read."""

    code = "read_error"


class WatermarkError(PixelsleuthError):
    """Watermark embedding/detection could not be done (bad key, payload, image too small...)."""

    code = "watermark_error"


class CredentialsError(PixelsleuthError):
    """Content credentials (C2PA) could not be read, signed or recovered."""

    code = "credentials_error"


class ReferenceIndexError(IndexError_):
    """A reference index is missing, locked, from another version or inconsistent; the message says what to do."""

    code = "reference_index_error"


class BenchmarkError(PixelsleuthError):
    """A benchmark could not be set up or run (bad dataset, unknown detector or perturbation)."""

    code = "benchmark_error"


class DatasetError(BenchmarkError):
    """A benchmark dataset or manifest is missing, malformed or inconsistent; the message names the file."""

    code = "dataset_error"


class MaskMismatchError(DatasetError):
    """A ground-truth mask does not have the image's size or orientation (masks are never resized silently)."""

    code = "mask_mismatch"
