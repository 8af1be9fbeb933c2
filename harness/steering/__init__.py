"""Steering directions from data (``fit``), their offline check (``check``) and the ablation sweep."""
