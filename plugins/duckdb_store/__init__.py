"""duckdb store."""
