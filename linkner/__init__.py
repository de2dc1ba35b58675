"""LinkNER: a local span NER model that knows when it is unsure, linked to an LLM for the uncertain entities.

Import cost matters (the CLI's ``--help`` must be instant), so this package imports no torch or
transformers at import time; heavy modules are imported by the functions that need them.
"""

__version__ = "0.1.0"
