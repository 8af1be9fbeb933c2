"""Per-architecture hook tables (canonical names -> module paths), loaded lazily by name."""
