"""LinkNER: a local span NER model that knows when it is unsure, linked to an LLM for the uncertain entities.

Import cost matters (the CLI's ``--help`` must be instant), so this package imports no torch or
transformers at import time; heavy modules are imported by the functions that need them.
"""

__version__ = "0.1.0"


def load(path, device: str = "cpu", bf16: bool = False):
    """Load a trained checkpoint folder as a :class:`linkner.predict.LocalModel` (imports torch lazily)."""
    from linkner.predict import load as _load

    return _load(path, device=device, bf16=bf16)
