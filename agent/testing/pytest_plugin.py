"""pytest plugin: fixtures for testing agents (placeholder)."""
