"""controllers/dataops."""
