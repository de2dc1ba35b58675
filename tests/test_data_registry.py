"""Every named dataset reads to the counts published in data/README.md; where its files are found."""

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
def test_counts(name, split, require_data):
    require_data(name, split)  # shipped splits always run; CoNLL/TwitterNER only where provided
    st = compute_stats(load(name, split))
    assert (st.sentences, st.tokens, st.entities) == EXPECTED[(name, split)]


@pytest.mark.needs_data("conll03")
def test_conll_per_type_counts():
    assert compute_stats(load("conll03", "test")).per_type == {"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}
    assert compute_stats(load("conll03", "train")).per_type == {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}


def test_every_dataset_is_covered():
    assert {n for n, _ in EXPECTED} == set(DATASETS)


def test_data_roots_are_explicit_only(tmp_path, monkeypatch):
    """$LINKNER_DATA_DIR, the project's data/, the fetch cache: never a folder beside the checkout or the cwd."""
    from linkner.data.registry import data_roots, project_data

    monkeypatch.setenv("LINKNER_DATA_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("LINKNER_DATA_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert data_roots() == [tmp_path / "mine", project_data(), tmp_path / "cache"]
    monkeypatch.delenv("LINKNER_DATA_DIR")
    assert data_roots() == [project_data(), tmp_path / "cache"]


def test_missing_data_says_how_to_get_it(tmp_path, monkeypatch):
    from linkner.data.registry import available, locate
    from linkner.errors import DataError

    monkeypatch.setenv("LINKNER_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("LINKNER_DATA_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"run `linkner data fetch conll03`"):
        locate("conll03-oov", "train")  # the variants' train/dev are CoNLL-2003's
    with pytest.raises(DataError, match=r"not on the Hugging Face hub: set LINKNER_DATA_DIR .*twitterner/dev.txt"):
        locate("twitterner", "dev")
    assert available("wnut17") and available("conll03-ood", ["test"]) and not available("conll03-ood")
    (tmp_path / "mine" / "twitterner").mkdir(parents=True)
    (tmp_path / "mine" / "twitterner" / "dev.txt").write_text("Bob B-PER\n")
    monkeypatch.setenv("LINKNER_DATA_DIR", str(tmp_path / "mine"))
    assert [s.tokens for s in load("twitterner", "dev")] == [["Bob"]]


def test_one_cache_rule(tmp_path, monkeypatch):
    from linkner.cache import cache_root, data_cache
    from linkner.link.config import LinkConfig, cache_dir

    for var in ("LINKNER_CACHE", "LINKNER_DATA_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "linkner" and data_cache() == cache_root() / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "linkner" and data_cache() == tmp_path / "xdg" / "linkner" / "data"
    assert LinkConfig().cache_path() == tmp_path / "xdg" / "linkner" / "llm-answers.jsonl"
    monkeypatch.setenv("LINKNER_CACHE", str(tmp_path / "lc"))
    monkeypatch.setenv("LINKNER_DATA_CACHE", str(tmp_path / "dc"))
    assert cache_dir() == tmp_path / "lc" and data_cache() == tmp_path / "dc"


def test_smoke_profile_falls_back_to_shipped_data_unless_strict(tmp_path, monkeypatch):
    from linkner.errors import DataError
    from linkner.studies.runs import SMOKE, profile_paths, profile_runs

    monkeypatch.setenv("LINKNER_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("LINKNER_DATA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LINKNER_STRICT_DATA", raising=False)
    sizes = profile_paths("smoke")[2]
    assert sizes.systems == (("wnut17", "spanner"), ("wnut17", "ener"))
    _, main, sweep = profile_runs(sizes)
    assert {(s.train, s.evalset) for s in main + sweep} == {("wnut17", "wnut17")}
    assert sizes.train_sentences == SMOKE.train_sentences and sizes.llm == SMOKE.llm
    monkeypatch.setenv("LINKNER_STRICT_DATA", "1")
    with pytest.raises(DataError, match=r"conll03.*LINKNER_STRICT_DATA.*linkner data fetch conll03"):
        profile_paths("smoke")


@pytest.mark.needs_data("conll03", "conll03-typos", "conll03-oov")
def test_smoke_profile_uses_conll_where_it_is_found():
    from linkner.studies.runs import SMOKE, profile_paths, profile_runs

    sizes = profile_paths("smoke")[2]
    assert sizes is SMOKE and {s.evalset for s in profile_runs(sizes)[1]} == {"conll03", "conll03-oov"}
