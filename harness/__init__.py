"""mistvla.harness."""
