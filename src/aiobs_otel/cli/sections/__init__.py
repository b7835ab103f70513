"""Per-area sections of ``aiobs-otel report``: each module has TITLE, ORDER and render(data)."""
