"""Metrics, intervals, comparison tables and plots of a run."""
