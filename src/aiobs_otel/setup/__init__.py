"""Providers, exporters and the embedded local sink. The only layer that imports the OTel SDK."""
