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
from linkner.studies.layout import EVAL_ORDER

TEST_SETS = tuple(EVAL_ORDER)


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
