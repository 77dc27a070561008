"""A module without tools."""
