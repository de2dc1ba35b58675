"""Every named dataset reads to the counts published in data/README.md (and the shared manifest)."""

from __future__ import annotations

import pytest

from linkner.data.registry import DATASETS, load
from linkner.data.stats import compute_stats

EXPECTED = {  # (sentences, tokens, entities), from data/README.md
    ("conll03", "train"): (14041, 203621, 23499),
    ("conll03", "dev"): (3250, 51362, 5942),
    ("conll03", "test"): (3453, 46435, 5648),
    ("conll03-typos", "test"): (2676, 39214, 5559),
    ("conll03-oov", "test"): (3453, 46887, 5648),
    ("conll03-ood", "test"): (1696, 39007, 3558),
    ("wnut16", "train"): (2394, 46469, 1496),
    ("wnut16", "dev"): (1000, 16261, 661),
    ("wnut16", "test"): (3850, 61908, 3473),
    ("wnut17", "train"): (3394, 62730, 1975),
    ("wnut17", "dev"): (1009, 15733, 836),
    ("wnut17", "test"): (1287, 23394, 1079),
    ("twitterner", "train"): (4000, 64439, 6363),
    ("twitterner", "dev"): (1000, 16178, 1600),
    ("twitterner", "test"): (3257, 52822, 5215),
}


@pytest.mark.parametrize("name, split", sorted(EXPECTED))
def test_counts(name, split):
    st = compute_stats(load(name, split))
    assert (st.sentences, st.tokens, st.entities) == EXPECTED[(name, split)]


def test_conll_per_type_counts():
    assert compute_stats(load("conll03", "test")).per_type == {"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}
    assert compute_stats(load("conll03", "train")).per_type == {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}


def test_every_dataset_is_covered():
    assert {n for n, _ in EXPECTED} == set(DATASETS)
