"""``linkner bench``: LinkNER's speed, memory and accuracy against the alternatives, on one machine.

One module per measured thing — :mod:`~linkner.bench.inference` (LinkNER vs its bare encoder),
:mod:`~linkner.bench.baselines` (Hugging Face tagger + pipeline, spaCy), :mod:`~linkner.bench.scaling`
(1 … 10,000 sentences, a 100,000-character document), :mod:`~linkner.bench.linking` (LLM cost per
routed entity, cache, server concurrency), :mod:`~linkner.bench.training` (seconds per epoch) — and
:mod:`~linkner.bench.runner`, which runs each case in a fresh process and writes
``results/bench/{part}.json`` plus ``summary.json``.

Each part module has ``cases(cfg)``, ``run_case(case, cfg) -> dict`` and ``summarize(results, cfg)``.
"""

from linkner.bench.common import PARTS, BenchConfig

__all__ = ["PARTS", "BenchConfig"]
