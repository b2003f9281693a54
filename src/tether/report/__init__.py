"""HTML reports: shared helpers for the stages' self-contained report pages."""
