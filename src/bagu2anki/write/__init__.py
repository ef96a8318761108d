"""Writers: the Anki deck, the concept map, reports."""
