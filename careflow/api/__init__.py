"""The HTTP API (FastAPI): intake events and read the store."""
