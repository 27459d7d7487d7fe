"""Intake: events (HTTP and CLI) and bulk imports (CSV, JSON Lines) into the store."""
