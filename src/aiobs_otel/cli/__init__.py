"""The ``aiobs-otel`` command."""
