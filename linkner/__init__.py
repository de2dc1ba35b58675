"""LinkNER: a local span NER model that knows when it is unsure, linked to an LLM for the uncertain entities.

The public API is a handful of functions, one per stage, each taking a typed config:

* :func:`load` a trained checkpoint as a :class:`linkner.models.predict.LocalModel`;
* :func:`train` (:func:`linkner.models.train.train`), :func:`evaluate`
  (:func:`linkner.evaluation.evaluate_checkpoint`), :func:`link` (:func:`linkner.link.pipeline.run_link`).

The stages are packages with a one-way import graph (a test checks it): ``data`` → ``uncertainty``
(estimators over probability arrays) → ``models`` → ``link`` → ``evaluation`` → ``studies`` → ``bench``,
with ``errors``, ``configio``, ``outputs``, ``provenance``, ``cache`` and ``metrics`` shared below them.

Import cost matters (the CLI's ``--help`` must be instant), so this package imports no torch or
transformers at import time; each function imports its stage when called.
"""

from linkner.provenance import VERSION as __version__

__all__ = ["__version__", "evaluate", "link", "load", "train"]


def load(path, device: str = "cpu", bf16: bool = False):
    """Load a trained checkpoint folder as a :class:`linkner.models.predict.LocalModel`."""
    from linkner.models.predict import load as _load

    return _load(path, device=device, bf16=bf16)


def train(run, **kwargs):
    """Train a span model from a :class:`linkner.models.config.RunConfig` (see :func:`linkner.models.train.train`)."""
    from linkner.models.train import train as _train

    return _train(run, **kwargs)


def evaluate(model_or_path, data: str, split: str = "test", **kwargs):
    """Score a checkpoint on a dataset split (see :func:`linkner.evaluation.evaluate_checkpoint`)."""
    from linkner.evaluation import evaluate_checkpoint

    return evaluate_checkpoint(model_or_path, data, split, **kwargs)


def link(predictions, cfg, out, **kwargs):
    """Route uncertain entities to an LLM and fuse its answers (see :func:`linkner.link.pipeline.run_link`)."""
    from linkner.link.pipeline import run_link

    return run_link(predictions, cfg, out, **kwargs)
