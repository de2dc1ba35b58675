"""Option scoring and fusion (issue 11, items 1–2): pooling arithmetic, fitting w on dev, options and
their keys (words, letters), parsing answers, first-token logprobs, the parse-only fallback (said once), and
the pipeline's fuse mode with scripted backends (fakes: what is tested here is the arithmetic and the
plumbing; real LLMs are in test_link_fusion_real.py)."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from link_helpers import SENTENCES, FakeBackend, FaultServer, span_in, write_predictions
from typer.testing import CliRunner

from linkner.data.types import Entity, Sentence
from linkner.link.backend import Completion
from linkner.link.config import LinkConfig, LLMConfig
from linkner.link.decision import LABEL, REJECT, UNPARSED
from linkner.link.first_token import choice_probs, first_token_candidates, key_of_token
from linkner.link.fusion import Choice, Fusion, argmax, estimate_reliability, fit_weight, fuse, pool, smoothed_onehot
from linkner.link.options import (
    build_request,
    keyed,
    local_distribution,
    offered,
    parse_choice,
)
from linkner.link.pipeline import run_link
from linkner.link.prompts import SCHEMAS

CONLL = SCHEMAS["conll03"]
KEY = {o.label: o.key for o in keyed(CONLL)}  # the default: person, organization, location, miscellaneous, none
GOLD = {" ".join(toks[a:b]): lab for toks, _, gold, _ in SENTENCES for a, b, lab in gold}


def dist(values) -> dict[str, float]:
    keys = ["PER", "ORG", "LOC", "MISC", "O"][: len(values)]
    total = sum(values)
    return {k: v / total for k, v in zip(keys, values)}


probs = st.lists(st.floats(0.001, 1.0), min_size=2, max_size=5)


# --- pooling -------------------------------------------------------------------------------------------

@given(probs, probs, st.floats(0.0, 1.0))
def test_pooling_is_normalised_and_its_ends_are_the_two_models(lp, qp, w):
    n = min(len(lp), len(qp))
    local, llm = dist(lp[:n]), dist(qp[:n])
    fused = pool(local, llm, w)
    assert set(fused) == set(local) and sum(fused.values()) == pytest.approx(1.0)
    assert pool(local, llm, 0.0) == pytest.approx(local)
    assert pool(local, llm, 1.0) == pytest.approx(llm, abs=1e-9)
    assert pool(local, None, w) == pytest.approx(local)  # no LLM distribution: the local one


def test_w0_is_the_local_argmax_w1_the_llm_argmax_and_between_they_trade_off():
    local, llm = dist([0.1, 0.2, 0.6, 0.05, 0.05]), dist([0.05, 0.05, 0.1, 0.75, 0.05])
    c = Choice(local, llm, "MISC", "LOC")
    assert fuse(c, 0.0, 0.5).label == "LOC" and fuse(c, 1.0, 0.5).label == "MISC"
    # equal weight keeps the local label (√(.6·.1) > √(.05·.75)); trusting the LLM more flips it
    assert fuse(c, 0.5, 0.5).label == "LOC" and fuse(c, 0.8, 0.5).label == "MISC"
    rejected = Choice(local, dist([0.01, 0.01, 0.01, 0.01, 0.96]), "O", "LOC")
    assert fuse(rejected, 1.0, 0.5).kind == REJECT  # "not an entity" wins: the entity is removed


def test_ties_go_to_the_higher_local_probability_then_the_option_order():
    local = {"PER": 0.3, "ORG": 0.5, "O": 0.2}
    fused = {"PER": 0.4, "ORG": 0.4, "O": 0.2}
    assert argmax(fused, local) == "ORG"
    assert argmax({"PER": 0.5, "ORG": 0.5}, {"PER": 0.5, "ORG": 0.5}) == "PER"


def test_a_parsed_answer_is_a_smoothed_one_hot_and_an_unparsed_one_keeps_local():
    assert smoothed_onehot("LOC", ["PER", "LOC", "O"], 0.8) == pytest.approx({"PER": 0.1, "LOC": 0.8, "O": 0.1})
    local = dist([0.2, 0.5, 0.2, 0.05, 0.05])
    d = fuse(Choice(local, None, None, "ORG"), 0.9, 0.9)
    assert d.kind == UNPARSED and d.detail.fused == pytest.approx(local)
    assert fuse(Choice(local, None, "PER", "ORG"), 0.9, 0.9).label == "PER"


# --- fitting w and r on dev -----------------------------------------------------------------------------

def _synthetic_dev():
    """40 items: the local model right on 24 (the 16 others it ranks second); the LLM sharp and right on
    the 16 and on half the 24, confidently wrong on the rest — a mix only a middle w gets mostly right."""
    choices, gold = [], []
    for i in range(40):
        local_right = i < 24
        g = "LOC"
        local = dist([0.05, 0.1, 0.5, 0.3, 0.05]) if local_right else dist([0.05, 0.1, 0.3, 0.5, 0.05])
        llm_right = (not local_right) or i % 2 == 0
        llm = dist([0.02, 0.02, 0.9, 0.04, 0.02]) if llm_right else dist([0.02, 0.02, 0.3, 0.64, 0.02])
        choices.append(Choice(local, llm, max(llm, key=llm.get), "LOC" if local_right else "MISC"))
        gold.append(g)
    return choices, gold


def test_w_is_fitted_on_dev_and_beats_both_ends():
    choices, gold = _synthetic_dev()
    w, curve = fit_weight(choices, gold, 0.5)
    by_w = {row["w"]: row["correct"] for row in curve}
    assert [row["w"] for row in curve] == [round(0.1 * i, 1) for i in range(11)]
    assert by_w[w] == max(by_w.values()) and by_w[w] > by_w[0.0] and by_w[w] > by_w[1.0]
    assert all(by_w[x] < by_w[w] for x in by_w if x < w)  # ties go to the smaller w


def test_ties_in_the_fit_choose_the_smaller_w():
    local = dist([0.1, 0.1, 0.6, 0.1, 0.1])
    same = [Choice(local, dict(local), "LOC", "LOC") for _ in range(5)]  # the LLM agrees: every w is as good
    w, curve = fit_weight(same, ["LOC"] * 5, 0.5)
    assert w == 0.0 and len({row["correct"] for row in curve}) == 1


def test_reliability_is_the_laplace_smoothed_dev_accuracy_of_the_answers():
    local = dist([0.2, 0.2, 0.2, 0.2, 0.2])
    cs = [Choice(local, None, a, "PER") for a in ("PER", "PER", "ORG", None)]
    r, n = estimate_reliability(cs, ["PER", "PER", "PER", "PER"])
    assert n == 3 and r == pytest.approx((2 + 1) / (3 + 2))
    f = Fusion()
    f.fit(cs, ["PER"] * 4)
    assert f.r == pytest.approx(0.6) and f.fitted and f.report()["w_from"] == "dev"
    fixed = Fusion(fixed_w=0.3)
    fixed.fit(cs, ["PER"] * 4)
    assert fixed.w == 0.3 and fixed.report()["w_from"] == "flag"


# --- options, keys, parsing ---------------------------------------------------------------------------

ENTITY = Entity(2, 3, "LOC", 0.4, {"probs": {"PER": 0.05, "ORG": 0.2, "LOC": 0.4, "MISC": 0.3, "O": 0.05}})
SENT = Sentence(tokens="EU rejects German call to boycott British lamb .".split(), id="s0")


def test_top_k_options_keep_their_schema_letters_and_always_offer_not_an_entity():
    assert [(o.key, o.label) for o in offered(CONLL, ENTITY, None, "letters")] == [
        ("A", "PER"), ("B", "ORG"), ("C", "LOC"), ("D", "MISC"), ("E", "O")]
    assert [(o.key, o.label) for o in offered(CONLL, ENTITY, 2, "letters")] == [("C", "LOC"), ("D", "MISC"), ("E", "O")]
    assert [(o.key, o.label) for o in offered(CONLL, ENTITY, 2)] == [("location", "LOC"), ("miscellaneous", "MISC"),
                                                                    ("none", "O")]
    assert [o.label for o in offered(CONLL, ENTITY, 1)] == ["LOC", "O"]
    local = local_distribution(ENTITY, offered(CONLL, ENTITY, 2))
    assert local == pytest.approx({"LOC": 0.4 / 0.75, "MISC": 0.3 / 0.75, "O": 0.05 / 0.75})  # O = the local P(O)
    bare = Entity(0, 1, "ORG", 0.7)  # no probs table: the score on its label, the rest spread evenly
    assert local_distribution(bare, offered(CONLL, bare, None)) == pytest.approx(
        {"PER": 0.075, "ORG": 0.7, "LOC": 0.075, "MISC": 0.075, "O": 0.075})


def test_the_request_offers_only_the_top_k_keys_and_shares_its_system_message():
    two = build_request(CONLL, SENT, ENTITY, offered(CONLL, ENTITY, 2))
    every = build_request(CONLL, SENT, ENTITY, offered(CONLL, ENTITY, None))
    assert two.choices == ("location", "miscellaneous", "none")
    assert every.choices == ("person", "organization", "location", "miscellaneous", "none")
    assert two.messages[0] == every.messages[0]  # the prefix every question shares (KV-cache reuse)
    assert two.messages[1][1].endswith('Span: "German"\nType (location, miscellaneous, none):')
    assert "- none: the span is not a named entity" in two.messages[0][1]
    assert json.loads(two.answer_schema)["properties"]["answer"]["enum"] == ["location", "miscellaneous", "none"]


def test_letter_questions_are_the_committed_runs_prompts_byte_for_byte():
    """Runs made before word keys asked with letters; their cached answers stay valid only while the
    letter prompts are unchanged, character for character."""
    two = build_request(CONLL, SENT, ENTITY, offered(CONLL, ENTITY, 2, "letters"))
    assert two.choices == ("C", "D", "E")
    assert two.messages[1][1] == ('<sentence>EU rejects [[German]] call to boycott British lamb .</sentence>\n'
                                  'Span: "German"\nOffered options: C. location; D. miscellaneous; E. not an entity\n'
                                  'Answer (one letter):')
    system = two.messages[0][1]
    assert system.startswith("You review the output of a named-entity tagger.") and "\nOptions:\nA. person: " in system
    assert system.endswith("Only some options may be offered for a span. Reply with the letter of one offered option, "
                           "nothing else.")
    assert json.loads(two.answer_schema)["properties"]["answer"]["enum"] == ["C", "D", "E"]


def test_the_shorter_question_wordings_change_only_how_the_word_key_question_ends():
    """The wording study's variants (linkner.studies.wording): the full question is what runs ask; the
    shorter ones drop the key list, then also the Span line; letters and demonstrations keep the full one."""
    from linkner.errors import ConfigError
    from linkner.link.options import MultipleChoice, user_message

    opts = offered(CONLL, ENTITY, None)
    case = '<sentence>EU rejects [[German]] call to boycott British lamb .</sentence>'
    assert user_message(SENT, ENTITY, opts) == (case + '\nSpan: "German"\n'
                                                'Type (person, organization, location, miscellaneous, none):')
    assert user_message(SENT, ENTITY, opts, wording="no-list") == case + '\nSpan: "German"\nType:'
    assert user_message(SENT, ENTITY, opts, wording="marked-only") == case + "\nType:"
    full = build_request(CONLL, SENT, ENTITY, opts)
    short = build_request(CONLL, SENT, ENTITY, opts, wording="marked-only")
    assert short.messages[0] == full.messages[0] and short.choices == full.choices  # same system message, same options
    with pytest.raises(ConfigError, match="letter keys need the offered options"):
        user_message(SENT, ENTITY, offered(CONLL, ENTITY, None, "letters"), wording="no-list")
    with pytest.raises(ConfigError, match="wording must be one of"):
        user_message(SENT, ENTITY, opts, wording="terse")
    with pytest.raises(ConfigError, match="needs word keys and no demonstrations"):
        MultipleChoice(CONLL, None, None, keys="letters", wording="marked-only")
    with pytest.raises(ConfigError, match="needs word keys and no demonstrations"):
        MultipleChoice(CONLL, None, None, bank=object(), wording="no-list")
    mc = MultipleChoice(CONLL, None, None, wording="no-list")
    assert mc.request(SENT, ENTITY).messages[1][1].endswith('Span: "German"\nType:')


def test_two_options_answered_alike_are_a_config_error():
    from linkner.errors import ConfigError
    from linkner.link.prompts import Schema, TypeInfo

    twins = Schema("x", "", (TypeInfo("A", "thing", "a."), TypeInfo("B", "Thing", "b.")))
    with pytest.raises(ConfigError, match="begin with the same word"):
        keyed(twins)
    assert [o.key for o in keyed(twins, "letters")] == ["A", "B", "C"]  # letters tell them apart
    with pytest.raises(ConfigError, match="option_keys must be one of"):
        keyed(twins, "digits")


@pytest.mark.parametrize("raw,expected", [
    ("C", "LOC"), (" c", "LOC"), ("(D)", "MISC"), ("D. miscellaneous", "MISC"), ("Answer: E", "O"),
    ('{"answer": "C"}', "LOC"), ("location", "LOC"), ("not an entity", "O"), ("<think>hmm</think>D", "MISC"),
    ("A", None), ("person", None), ("I cannot tell", None), ("", None), (None, None),
])
def test_letter_answers_map_to_offered_options_or_are_unparsed(raw, expected):
    assert parse_choice(raw, offered(CONLL, ENTITY, 2, "letters"), CONLL) == expected


@pytest.mark.parametrize("raw,expected", [
    ("location", "LOC"), (" Location.", "LOC"), ("miscellaneous", "MISC"), ("none", "O"), ("None", "O"),
    ("not an entity", "O"), ('{"answer": "location"}', "LOC"), ("mis", "MISC"), ("loc", "LOC"),  # one-token answers
    ("l", "LOC"),  # the one token a server without logprobs sent: it starts location only
    ("person", None), ("C", None), ("I cannot tell", None), ("", None),
])
def test_word_answers_map_to_offered_options_or_are_unparsed(raw, expected):
    assert parse_choice(raw, offered(CONLL, ENTITY, 2), CONLL) == expected


def test_first_token_logprobs_become_option_probabilities():
    body = json.dumps({"choices": [{"message": {"content": "C"}, "logprobs": {"content": [
        {"token": "C", "logprob": -0.5, "top_logprobs": [{"token": "C", "logprob": -0.5}, {"token": " D", "logprob": -1.5},
                                                         {"token": "D", "logprob": -3.0}, {"token": "The", "logprob": -2.0}]}]}}]})
    p, mass = choice_probs(first_token_candidates(body), ("C", "D", "E"))
    import math

    c, d = math.exp(-0.5), math.exp(-1.5) + math.exp(-3.0)  # " D" and "D" are the same option
    assert p == pytest.approx({"C": c / (c + d), "D": d / (c + d), "E": 0.0}) and mass == pytest.approx(c + d)
    assert choice_probs(first_token_candidates(json.dumps({"choices": [{"message": {"content": "C"}}]})), ("C",)) == (None, 0.0)


def test_a_word_key_is_scored_by_any_token_that_starts_it_and_only_it():
    keys = ("corporation", "creative work", "product", "none")
    assert key_of_token(" Corpor", keys) == "corporation" and key_of_token("creative", keys) == "creative work"
    assert key_of_token("c", keys) is None  # starts two keys: says nothing about which
    assert key_of_token(" product.", keys) == "product" and key_of_token("The", keys) is None
    assert key_of_token("C", ("C", "D")) == "C" and key_of_token("c", ("C", "D")) is None  # letters: exact
    import math

    p, mass = choice_probs([("Product", -0.2), (" prod", -2.0), ("c", -1.0), ("none", -3.0)], keys)
    pr, no = math.exp(-0.2) + math.exp(-2.0), math.exp(-3.0)
    assert p == pytest.approx({"corporation": 0.0, "creative work": 0.0, "product": pr / (pr + no), "none": no / (pr + no)})
    assert mass == pytest.approx(pr + no)


# --- the pipeline in fuse mode ----------------------------------------------------------------------------

def cfg(tmp_path, **kw):
    return LinkConfig(cache=str(tmp_path / "cache.jsonl"), llm=LLMConfig(backend="openai", model="fake"), **kw)


def gold_key(span: str) -> str:
    """A scripted LLM that names the gold option's key (none when the span is no gold entity)."""
    return KEY[GOLD.get(span, "O")]


class ScoringFake(FakeBackend):
    """A backend that returns option probabilities (as llama.cpp or a logprobs server would): 0.8 on
    the gold option, the rest spread evenly."""

    def complete(self, request):
        c = super().complete(request)
        want = gold_key(span_in(request.messages[-1][1]))
        p = {k: (0.8 if k == want else 0.2 / (len(request.choices) - 1)) for k in request.choices}
        return Completion(max(p, key=p.get), c.seconds, 100, 0, {"choice_mass": 0.9}, option_probs=p)


def _linked(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_parse_only_fallback_fuses_parsed_answers_says_so_once_and_counts_unparsed(tmp_path, caplog):
    answers = {"German": "miscellaneous", "Old Trafford": "no idea", "Sunday": "none", "Apple": "Organization"}
    fake = FakeBackend(answer=lambda span: answers[span])
    with caplog.at_level(logging.WARNING, logger="linkner.link"):
        res = run_link(write_predictions(tmp_path / "p.jsonl"), cfg(tmp_path, fusion_weight=0.5), tmp_path / "out",
                       backend=fake)
    assert sum("no option log-probabilities" in r.getMessage() for r in caplog.records) == 1
    m = json.loads((tmp_path / "out/metrics.json").read_text())
    d = m["decision"]
    assert d["mode"] == "fuse" and d["probability_source"] == "parsed+reliability" and d["fallback"]
    assert d["w"] == 0.5 and d["w_from"] == "flag" and d["reliability_from"].startswith("default")
    assert m["routing"]["decisions"]["unparsed"] == 1
    ents = {" ".join(s.tokens[e.start:e.end]): e for s in res.linked for e in s.entities}
    assert ents["Old Trafford"].label == "ORG" and ents["Old Trafford"].extra["source"] == "local_unparsed"
    g = ents["German"].extra["fusion"]
    assert g["source"] == "parsed" and g["llm_answer"] == "MISC" and sum(g["fused"].values()) == pytest.approx(1, abs=1e-3)
    assert ents["German"].label == max(g["fused"], key=g["fused"].get)


def test_logprob_answers_are_fused_cached_with_their_probabilities_and_a_rerun_asks_nothing(tmp_path, caplog):
    pred = write_predictions(tmp_path / "p.jsonl")
    first = ScoringFake()
    with caplog.at_level(logging.WARNING, logger="linkner.link"):
        run_link(pred, cfg(tmp_path, fusion_weight=0.7), tmp_path / "a", backend=first)
    assert not [r for r in caplog.records if "log-probabilities" in r.getMessage()]
    assert len(first.calls) == 4
    recs = [json.loads(x) for x in (tmp_path / "cache.jsonl").read_text().splitlines()]
    assert sum("option_probs" in r for r in recs) == 4
    again = ScoringFake()
    res = run_link(pred, cfg(tmp_path, fusion_weight=0.7), tmp_path / "b", backend=again)
    assert again.calls == [] and res.metrics["decision"]["probability_source"] == "logprobs"
    assert (tmp_path / "a/linked.jsonl").read_bytes() == (tmp_path / "b/linked.jsonl").read_bytes()
    routed = [e for r in _linked(tmp_path / "b/linked.jsonl") for e in [*r["entities"], *r["rejected"]] if e["routed"]]
    assert len(routed) == 4 and all(e["fusion"]["source"] == "logprobs" for e in routed)
    assert all(sum(e["fusion"]["llm"].values()) == pytest.approx(1, abs=1e-3) for e in routed)
    # replace mode asks its own (free-answer) questions: the fuse answers are not reused for it
    assert run_link(pred, cfg(tmp_path, decision="replace"), tmp_path / "c", backend=FakeBackend()).metrics["llm"]["calls"] == 4


def _dev(tmp_path):
    rows = [(toks + [f"dev{c}"], ents, gold, gs) for c in range(4) for toks, ents, gold, gs in SENTENCES]
    return write_predictions(tmp_path / "dev.jsonl", sentences=rows)


def test_w_is_fitted_on_the_dev_answers_before_tau_is_tuned(tmp_path):
    fake = FakeBackend(answer=gold_key)  # right every time, parse-only
    res = run_link(write_predictions(tmp_path / "p.jsonl"),
                   cfg(tmp_path, threshold="auto", dev_predictions=str(_dev(tmp_path))), tmp_path / "o", backend=fake)
    d = res.metrics["decision"]
    assert d["w_from"] == "dev" and d["reliability_from"] == "dev" and d["reliability"] > 0.9
    curve = {row["w"]: row["correct"] for row in d["dev"]["curve"]}
    assert curve[d["w"]] > curve[0.0] and d["w"] == min(w for w, c in curve.items() if c == curve[d["w"]])


def test_options_k_limits_what_is_asked(tmp_path):
    fake = FakeBackend(answer=gold_key)
    run_link(write_predictions(tmp_path / "p.jsonl"), cfg(tmp_path, options_k=1), tmp_path / "o", backend=fake)
    assert all(len(r.choices) == 2 for r in fake.requests)  # the local label + not an entity


def test_the_openai_backend_without_logprobs_falls_back_to_parsed_answers(tmp_path):
    with FaultServer(reply=gold_key) as srv:
        llm = LLMConfig(backend="openai", model="fake", base_url=srv.url + "/v1", retries=0)
        res = run_link(write_predictions(tmp_path / "p.jsonl"), LinkConfig(cache=str(tmp_path / "c.jsonl"), llm=llm),
                       tmp_path / "o")
        sent = [r for r in srv.requests("/v1/chat/completions") if r.get("messages")]
    assert len(sent) == 4 and all(r["logprobs"] and r["max_tokens"] == 1 and "response_format" not in r for r in sent)
    d = res.metrics["decision"]
    assert d["probability_source"] == "parsed+reliability" and d["fallback"]
    assert set(res.metrics["routing"]["decisions"]) <= {LABEL, REJECT}


@pytest.mark.parametrize("args,msg", [(["--decision", "vote"], "decision must be one of"),
                                      (["--options-k", "0"], "options_k must be at least 1"),
                                      (["--fusion-weight", "1.5"], "fusion_weight is between 0")])
def test_bad_fusion_flags_are_one_error_line(tmp_path, args, msg):
    from linkner_cli.app import app

    r = CliRunner().invoke(app, ["link", str(write_predictions(tmp_path / "p.jsonl")), "--out", str(tmp_path / "o"), *args])
    assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output


def test_in_process_word_tokens_follow_the_server_rule_and_an_unscorable_option_is_one_error():
    """llama.cpp scores a word key by every vocabulary token that starts it alone (the rule servers'
    top_logprobs get); an option no token starts alone cannot be scored, which is said before any answer."""
    from pathlib import Path

    from linkner.errors import LLMError
    from linkner.link.llamacpp import LlamaCppBackend

    b = LlamaCppBackend.__new__(LlamaCppBackend)  # the vocabulary only: no model is loaded
    b.path, b._word_ids = Path("tiny.gguf"), {}
    b._pieces = ["ap", " apple", "Apple", "apr", " the", "n", "None", "", "<|im_end|>"]
    assert b._word_tokens(("apple", "apricot", "none")) == [[1, 2], [3], [5, 6]]
    with pytest.raises(LLMError, match="'applet' alone"):
        b._word_tokens(("apple", "applet", "none"))  # " apple" and "Apple" are apple whole; "ap" starts both


def test_word_keys_are_matched_against_the_whole_schema_so_an_unoffered_option_takes_its_own_tokens():
    two = build_request(CONLL, SENT, ENTITY, offered(CONLL, ENTITY, 2))
    assert two.choices == ("location", "miscellaneous", "none")
    assert two.keys == ("person", "organization", "location", "miscellaneous", "none")
    p, mass = choice_probs([(" Person", -0.1), (" pers", -2.0), (" Loc", -1.0), ("none", -2.0)], two.choices, two.keys)
    import math

    lo, no = math.exp(-1.0), math.exp(-2.0)  # the person tokens count for no offered option
    assert p == pytest.approx({"location": lo / (lo + no), "miscellaneous": 0.0, "none": no / (lo + no)})
    assert mass == pytest.approx(lo + no)
    assert parse_choice("pers", offered(CONLL, ENTITY, 2), CONLL) is None  # starts person, which was not offered


@pytest.mark.parametrize("labels", [["political_party", "political_movement"], ["new", "new_york"], ["none", "PER"]])
def test_word_keys_that_no_first_token_can_separate_are_a_config_error_before_any_call(labels):
    from linkner.errors import ConfigError
    from linkner.link.prompts import generic_schema

    with pytest.raises(ConfigError, match="begin with the same word"):
        keyed(generic_schema(labels))
    assert len(keyed(generic_schema(labels), "letters")) == len(labels) + 1


def test_every_built_in_schema_has_separable_word_keys_and_a_key_may_extend_another_word():
    from linkner.link.prompts import generic_schema

    assert all(len(keyed(s)) == len(s.types) + 1 for s in SCHEMAS.values())
    assert [o.key for o in keyed(generic_schema(["product", "production"]))] == ["product", "production", "none"]
