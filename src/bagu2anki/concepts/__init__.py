"""Concept stage: the catalogue, recognising concepts in atoms, and the prerequisite graph.

`recognize` here is the module; call `bagu2anki.concepts.recognize.recognize(atom, catalogue)`
(re-exporting the function would hide the module of the same name).
"""

from bagu2anki.concepts.catalogue import Catalogue, Concept, load_catalogue
from bagu2anki.concepts.graph import ConceptGraph, Edge, build_graph
from bagu2anki.concepts.recognize import candidate_acronyms

__all__ = [
    "Catalogue",
    "Concept",
    "ConceptGraph",
    "Edge",
    "build_graph",
    "candidate_acronyms",
    "load_catalogue",
]
