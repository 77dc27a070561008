"""A module that fails at import, as a user's module with a bug does."""

raise RuntimeError("config file missing")
