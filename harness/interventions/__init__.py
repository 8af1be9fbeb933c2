"""Interventions: how the harness reacts each step to a risk signal (registry in ``base``)."""
