"""Testing helpers (placeholder until the scripted server lands)."""

__all__: list[str] = []
