"""Named datasets of the paper, their files and label schemas, and where to find them.

Files are looked up, in order, under ``$LINKNER_DATA_DIR``, the project's own ``data/`` folder and a
``shared/data`` folder beside the checkout. The project ships the openly licensed sets (WNUT-16,
WNUT-17, WikiGold); CoNLL-2003 and its Typos/OOV variants are research-use-only Reuters derivatives
and TwitterNER has no stated licence, so they are found by path, never vendored (see data/README.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from linkner.data.readers import read
from linkner.data.types import Sentence, labels_of
from linkner.errors import DataError

CONLL_LABELS = ("PER", "ORG", "LOC", "MISC")


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset: relative file per split, file format options, and the label schema."""

    name: str
    description: str
    splits: dict[str, str]
    labels: tuple[str, ...]
    domain: str = "news"
    licence: str = ""
    read_options: dict = field(default_factory=dict)


_CONLL_TRAIN_DEV = {"train": "conll03/train.txt", "dev": "conll03/valid.txt"}

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec("conll03", "CoNLL-2003 English (Reuters newswire)", {**_CONLL_TRAIN_DEV, "test": "conll03/test.txt"},
                    CONLL_LABELS, licence="research use only (Reuters RCV1)"),
        DatasetSpec("conll03-typos", "CoNLL-2003 test with typos in entities (MINER); train/dev = CoNLL-2003",
                    {**_CONLL_TRAIN_DEV, "test": "conll03/typos/test.txt"}, CONLL_LABELS, licence="research use only"),
        DatasetSpec("conll03-oov", "CoNLL-2003 test with entities replaced by unseen names (MINER); train/dev = CoNLL-2003",
                    {**_CONLL_TRAIN_DEV, "test": "conll03/oov/test.txt"}, CONLL_LABELS, licence="research use only"),
        DatasetSpec("conll03-ood", "WikiGold as out-of-domain test for CoNLL-2003 models; train/dev = CoNLL-2003",
                    {**_CONLL_TRAIN_DEV, "test": "conll03/ood/wikigold.conll.txt"}, CONLL_LABELS, domain="wikipedia",
                    licence="test: CC-BY 4.0"),
        DatasetSpec("wnut16", "WNUT-2016 Twitter NER (10 types)",
                    {"train": "wnut16/train", "dev": "wnut16/dev", "test": "wnut16/test"},
                    ("company", "facility", "geo-loc", "movie", "musicartist", "other", "person", "product",
                     "sportsteam", "tvshow"), domain="social", licence="GPL-3.0 repository; tweets under Twitter terms"),
        DatasetSpec("wnut17", "WNUT-2017 emerging and rare entities (6 types)",
                    {"train": "wnut17/wnut17train.conll", "dev": "wnut17/emerging.dev.conll",
                     "test": "wnut17/emerging.test.annotated"},
                    ("location", "group", "corporation", "person", "creative-work", "product"), domain="social",
                    licence="CC-BY 4.0"),
        DatasetSpec("twitterner", "TwitterNER / Twitter-2015 (MINER copy)",
                    {"train": "twitterner/train.txt", "dev": "twitterner/dev.txt", "test": "twitterner/test.txt"},
                    ("PER", "LOC", "ORG", "OTHER"), domain="social", licence="not stated"),
    ]
}


def data_roots() -> list[Path]:
    """Folders searched for dataset files, most specific first."""
    roots = []
    if env := os.environ.get("LINKNER_DATA_DIR"):
        roots.append(Path(env))
    project = Path(__file__).resolve().parents[2]
    roots += [project / "data", project.parent / "shared" / "data", Path.cwd() / "data", Path.cwd().parent / "shared" / "data"]
    seen, out = set(), []
    for r in roots:
        if r not in seen:
            seen.add(r)
            out.append(r)
    return out


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)} (or give a file path)")
    return DATASETS[name]


def locate(name: str, split: str) -> Path:
    """The file holding ``split`` of dataset ``name``."""
    s = spec(name)
    if split not in s.splits:
        raise DataError(f"dataset {name} has no split {split!r}; it has {', '.join(s.splits)}")
    rel = s.splits[split]
    for root in data_roots():
        if (root / rel).is_file():
            return root / rel
    tried = ", ".join(str(r) for r in data_roots())
    raise DataError(f"{name}/{split}: {rel} not found under {tried}; set LINKNER_DATA_DIR to the folder that holds it")


def validate_labels(sentences: list[Sentence], labels: tuple[str, ...] | list[str], source: str) -> None:
    """Raise if ``sentences`` use a label outside the declared schema."""
    unknown = sorted(set(labels_of(sentences)) - set(labels))
    if unknown:
        raise DataError(f"{source}: label(s) {', '.join(unknown)} not in the schema {', '.join(labels)}")


def load(name_or_path: str | Path, split: str = "test", fmt: str | None = None, labels: list[str] | None = None) -> list[Sentence]:
    """Load a named dataset split, or a file in any supported format.

    Named datasets are checked against their schema; files are checked against ``labels`` when given.
    """
    key = str(name_or_path)
    if key in DATASETS:
        s = DATASETS[key]
        path = locate(key, split)
        sentences = read(path, fmt or "conll", **s.read_options)
        validate_labels(sentences, labels or s.labels, f"{key}/{split}")
        return sentences
    path = Path(name_or_path)
    if not path.exists() and "/" not in key and "." not in key:
        spec(key)  # raises the "unknown dataset" error listing the known ones
    sentences = read(path, fmt)
    if labels:
        validate_labels(sentences, labels, str(path))
    return sentences


def schema_for(name_or_path: str | Path, sentences: list[Sentence] | None = None) -> list[str]:
    """The label schema: declared for named datasets, inferred (sorted) from the data otherwise."""
    if str(name_or_path) in DATASETS:
        return list(DATASETS[str(name_or_path)].labels)
    return labels_of(sentences or [])
