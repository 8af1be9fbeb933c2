"""mistvla.policies."""
