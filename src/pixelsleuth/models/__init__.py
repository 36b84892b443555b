"""Model registry (third-party weights, fetched on request) and our own small trained models."""
