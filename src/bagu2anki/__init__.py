"""bagu2anki: Chinese interview notes (八股) -> Q&A atoms -> Anki deck + offline concept map."""

__version__ = "0.1.0"
