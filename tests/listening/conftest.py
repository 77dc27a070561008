from tests.audio.corpus import corpus

__all__ = ["corpus"]
