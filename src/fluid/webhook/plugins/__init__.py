"""webhook/plugins."""
