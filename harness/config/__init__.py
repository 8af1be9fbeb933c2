"""Typed run configuration: strict dataclasses from YAML (``typed``) and the run config (``run``)."""
