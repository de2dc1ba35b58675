"""Data model, readers, writers and the registry of named datasets."""

from linkner.data.readers import read
from linkner.data.registry import DATASETS, load, schema_for
from linkner.data.types import Entity, Sentence, labels_of
from linkner.data.writers import write

__all__ = ["DATASETS", "Entity", "Sentence", "labels_of", "load", "read", "schema_for", "write"]
