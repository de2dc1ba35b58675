"""Where LinkNER keeps what it downloads or assembles: one rule for every cache.

The LLM answer cache and model files (:func:`linkner.link.config.cache_dir`), the reassembled encoders
(:mod:`linkner.models.encoders`) and the datasets ``linkner data fetch`` writes (:func:`data_cache`) all live
under :func:`cache_root`, so one variable moves them all and a user who set ``XDG_CACHE_HOME`` finds
them where their other tools keep theirs.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$LINKNER_CACHE``, else ``$XDG_CACHE_HOME/linkner``, else ``~/.cache/linkner``."""
    if env := os.environ.get("LINKNER_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg or Path.home() / ".cache") / "linkner"


def data_cache() -> Path:
    """Datasets fetched from the Hugging Face hub: ``$LINKNER_DATA_CACHE``, else ``<cache_root>/data``.

    The data cache has its own variable because it is also a data *root* the registry searches: a
    test or a CI job can point it at an empty folder without moving the (large) model cache.
    """
    if env := os.environ.get("LINKNER_DATA_CACHE"):
        return Path(env)
    return cache_root() / "data"
