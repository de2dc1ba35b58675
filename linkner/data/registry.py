"""Named datasets of the paper, their files and label schemas, and where to find them.

Files are looked up, in order, under ``$LINKNER_DATA_DIR``, the project's own ``data/`` folder and the
download cache ``linkner data fetch`` writes to (:func:`linkner.cache.data_cache`). Nothing else is
searched: a folder beside the checkout or under the working directory would make the same command read
different files depending on where it runs, and would hide from a development checkout that a fresh
clone lacks them. The project ships the openly licensed sets (WNUT-16, WNUT-17, WikiGold); CoNLL-2003
is fetched from the Hugging Face hub on request; its Typos/OOV variants (research-use-only Reuters
derivatives) and TwitterNER (no stated licence) are found by path, never vendored (see data/README.md).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from linkner.cache import data_cache
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
    shipped: tuple[str, ...] = ()  # splits whose files ship in the project's data/ folder
    hub: str = ""  # Hugging Face hub id `linkner data fetch` converts this set from ("" = not on the hub)


_CONLL_TRAIN_DEV = {"train": "conll03/train.txt", "dev": "conll03/valid.txt"}

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec("conll03", "CoNLL-2003 English (Reuters newswire)", {**_CONLL_TRAIN_DEV, "test": "conll03/test.txt"},
                    CONLL_LABELS, licence="research use only (Reuters RCV1)", hub="eriktks/conll2003"),
        DatasetSpec("conll03-typos", "CoNLL-2003 test with typos in entities (MINER); train/dev = CoNLL-2003",
                    {**_CONLL_TRAIN_DEV, "test": "conll03/typos/test.txt"}, CONLL_LABELS, licence="research use only"),
        DatasetSpec("conll03-oov", "CoNLL-2003 test with entities replaced by unseen names (MINER); train/dev = CoNLL-2003",
                    {**_CONLL_TRAIN_DEV, "test": "conll03/oov/test.txt"}, CONLL_LABELS, licence="research use only"),
        DatasetSpec("conll03-ood", "WikiGold as out-of-domain test for CoNLL-2003 models; train/dev = CoNLL-2003",
                    {**_CONLL_TRAIN_DEV, "test": "conll03/ood/wikigold.conll.txt"}, CONLL_LABELS, domain="wikipedia",
                    licence="test: CC-BY 4.0", shipped=("test",)),
        DatasetSpec("wnut16", "WNUT-2016 Twitter NER (10 types)",
                    {"train": "wnut16/train", "dev": "wnut16/dev", "test": "wnut16/test"},
                    ("company", "facility", "geo-loc", "movie", "musicartist", "other", "person", "product",
                     "sportsteam", "tvshow"), domain="social", licence="GPL-3.0 repository; tweets under Twitter terms",
                    shipped=("train", "dev", "test")),
        DatasetSpec("wnut17", "WNUT-2017 emerging and rare entities (6 types)",
                    {"train": "wnut17/wnut17train.conll", "dev": "wnut17/emerging.dev.conll",
                     "test": "wnut17/emerging.test.annotated"},
                    ("location", "group", "corporation", "person", "creative-work", "product"), domain="social",
                    licence="CC-BY 4.0", shipped=("train", "dev", "test")),
        DatasetSpec("twitterner", "TwitterNER / Twitter-2015 (MINER copy)",
                    {"train": "twitterner/train.txt", "dev": "twitterner/dev.txt", "test": "twitterner/test.txt"},
                    ("PER", "LOC", "ORG", "OTHER"), domain="social", licence="not stated"),
    ]
}


def project_data() -> Path:
    """The checkout's own ``data/`` folder (the package is installed editable, as the README says)."""
    return Path(__file__).resolve().parents[2] / "data"


def data_roots() -> list[Path]:
    """Folders searched for dataset files, most specific first: ``$LINKNER_DATA_DIR``, the project's
    ``data/``, the fetch cache."""
    roots = [Path(env).expanduser()] if (env := os.environ.get("LINKNER_DATA_DIR")) else []
    roots += [project_data(), data_cache()]
    return list(dict.fromkeys(roots))


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)} (or give a file path)")
    return DATASETS[name]


def fetchable_from(rel: str) -> str | None:
    """The dataset whose ``linkner data fetch`` writes file ``rel`` (CoNLL-2003 train/dev/test), if any."""
    return next((s.name for s in DATASETS.values() if s.hub and rel in s.splits.values()), None)


def how_to_get(name: str, split: str) -> str:
    """What a person should do to make ``split`` of ``name`` available (the end of every "not found")."""
    s = spec(name)
    rel = s.splits[split]
    if split in s.shipped:
        return f"{rel} ships in the project's data/ folder; restore it with `git checkout -- data/{rel}`"
    if fetched := fetchable_from(rel):
        return (f"run `linkner data fetch {fetched}` (downloads it from the Hugging Face hub into {data_cache()}), "
                f"or set LINKNER_DATA_DIR to a folder that holds {rel}")
    return (f"{name} is not on the Hugging Face hub: set LINKNER_DATA_DIR to a folder that holds {rel} "
            "(sources in data/README.md)")


def find(name: str, split: str) -> Path | None:
    """The file holding ``split`` of ``name``, or ``None`` when no data root has it."""
    rel = spec(name).splits[split]
    return next((root / rel for root in data_roots() if (root / rel).is_file()), None)


def available(name: str, splits: tuple[str, ...] | list[str] | None = None) -> bool:
    """Whether every split of ``name`` (or the ones given) is found (a cheap check, reads nothing)."""
    return all(find(name, sp) is not None for sp in (splits or spec(name).splits))


STRICT_DATA_ENV = "LINKNER_STRICT_DATA"


def strict_data() -> bool:
    """Whether ``LINKNER_STRICT_DATA`` is set: CI provides every dataset and sets it, so that a test or a
    smoke run that would fall back for want of a non-shipped set fails instead of quietly doing less."""
    return os.environ.get(STRICT_DATA_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def locate(name: str, split: str) -> Path:
    """The file holding ``split`` of dataset ``name``."""
    s = spec(name)
    if split not in s.splits:
        raise DataError(f"dataset {name} has no split {split!r}; it has {', '.join(s.splits)}")
    if (path := find(name, split)) is not None:
        return path
    tried = ", ".join(str(r) for r in data_roots())
    raise DataError(f"{name}/{split}: {s.splits[split]} not found under {tried}; {how_to_get(name, split)}")


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


# ------------------------------------------------------------------------------ splits and subsets
def load_split(data: str, split: str, labels: list[str] | None = None) -> list[Sentence]:
    """A split of a named dataset, or a file when ``split`` (or ``data``) is a path."""
    if Path(split).is_file():
        return load(split, labels=labels)
    if data not in DATASETS and Path(data).is_file():
        if split not in ("train",):
            raise DataError(f"--data {data} is a single file; give the {split} split as a file path too")
        return load(data, labels=labels)
    return load(data, split)


def subset(sentences: list[Sentence], n: int | None, seed: int) -> list[Sentence]:
    """A seeded random subset of ``n`` sentences in their original order (all when ``n`` is None)."""
    if n is None or n >= len(sentences):
        return sentences
    keep = sorted(random.Random(seed).sample(range(len(sentences)), n))
    return [sentences[i] for i in keep]
