"""The paper's studies as functions: each runs one study and writes a self-describing results JSON.

Notebooks and ``linkner figures`` call these (or read what they wrote); they hold no logic of their
own. A results JSON always has ``numbers`` (what figures plot), ``config`` (what was run) and ``run``
(versions, machine, time: :func:`linkner.provenance.run_info`).
"""

from __future__ import annotations

import json
from pathlib import Path

from linkner.data.registry import DATASETS, load
from linkner.data.stats import compute_stats
from linkner.data.types import Sentence
from linkner.errors import DataError
from linkner.provenance import run_info

TEST_SETS = ("conll03", "conll03-typos", "conll03-oov", "conll03-ood", "wnut16", "wnut17", "twitterner")


def write_results(path: str | Path, numbers: dict, config: dict) -> dict:
    """Write ``{"numbers", "config", "run"}`` as pretty, key-sorted JSON (stable diffs) and return it."""
    doc = {"numbers": numbers, "config": config, "run": run_info()}
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return doc


def _surfaces(sentences: list[Sentence]) -> list[tuple[str, str]]:
    return [(" ".join(s.tokens[e.start : e.end]).lower(), e.label) for s in sentences for e in s.entities]


def unseen_rate(test: list[Sentence], train: list[Sentence]) -> float:
    """Fraction of test entity mentions whose lower-cased surface never occurs as a train entity.

    This is the quantity the robustness sets manipulate: OOV replaces entities with unseen names,
    Typos misspells them, OOD changes the domain.
    """
    seen = {s for s, _ in _surfaces(train)}
    mentions = _surfaces(test)
    return sum(s not in seen for s, _ in mentions) / len(mentions) if mentions else 0.0


def data_overview(names: tuple[str, ...] = TEST_SETS, max_sentences: int | None = None) -> dict:
    """Statistics of every available dataset split and the unseen-entity rate of each test set.

    ``max_sentences`` truncates each split (the notebooks' smoke profile). Datasets whose files are
    not found here are listed under ``missing`` instead of failing the study.
    """
    numbers: dict = {"splits": {}, "unseen_rate": {}, "missing": []}
    train_cache: dict[str, list[Sentence]] = {}
    for name in names:
        spec = DATASETS[name]
        try:
            splits = {sp: load(name, sp)[:max_sentences] for sp in spec.splits}
        except DataError:
            numbers["missing"].append(name)
            continue
        train_key = spec.splits["train"]
        train_cache.setdefault(train_key, splits["train"])
        for sp, sents in splits.items():
            if sp == "test" or not name.startswith("conll03-"):  # variants share CoNLL train/dev
                numbers["splits"][f"{name}/{sp}"] = compute_stats(sents).as_dict()
        numbers["unseen_rate"][name] = unseen_rate(splits["test"], train_cache[train_key])
    return numbers


def run_data_overview(out: str | Path = "results/data/overview.json", max_sentences: int | None = None) -> dict:
    return write_results(out, data_overview(max_sentences=max_sentences), {"study": "data_overview", "max_sentences": max_sentences})


# The studies after data statistics live in linkner.studies.*; they are importable from here too
# (loaded on first use, which also keeps ``import linkner.experiments`` light and free of cycles).
_STUDIES = {
    "linkner.studies.local": ("local_models", "run_local_models", "uncertainty", "run_uncertainty", "ood_detection",
                              "run_ood_detection", "risk_coverage_curves"),
    "linkner.studies.linking": ("threshold", "run_threshold", "linking", "run_linking", "in_context", "run_in_context",
                                "cost", "run_cost", "pareto_front"),
    "linkner.studies.paper": ("paper_vs_ours", "run_paper_vs_ours", "load_paper_numbers"),
}
_LAZY = {name: module for module, names in _STUDIES.items() for name in names}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
