"""pluginhost."""
