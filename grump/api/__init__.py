"""The producer API (FastAPI)."""
