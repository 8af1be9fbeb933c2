"""The results store: schema, manifest, Parquet episodes and steps, hidden-state shards."""
