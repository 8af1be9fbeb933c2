"""mistvla.hooks."""
