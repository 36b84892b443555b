"""Report: JSON model and schema, pixel outputs, HTML pages."""

from pixelsleuth.report.model import SCHEMA_VERSION, Report, load_schema, validate_report

__all__ = ["SCHEMA_VERSION", "Report", "load_schema", "validate_report"]
