"""Readers and writers: every format, round trips, and one clear error for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkner.data import Entity, Sentence, load, read, write
from linkner.data.readers import guess_format, read_conll
from linkner.data.registry import locate
from linkner.errors import DataError

FIX = Path(__file__).parent / "fixtures"


def test_conll_reader_drops_docstart_and_chunks():
    sents = read_conll(FIX / "mini.conll")
    assert [len(s) for s in sents] == [9, 2, 2]
    assert [(e.start, e.end, e.label) for e in sents[0].entities] == [(0, 1, "ORG"), (2, 3, "MISC"), (6, 7, "MISC")]
    assert sents[1].surface(sents[1].entities[0]) == "Peter Blackburn"


def test_tag_column_and_tab_only_separator_lines(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("Paris\tB-LOC\tO\n\t\nis\tO\tO\nnice\tO\tB-MISC\n", encoding="utf-8")
    assert [s.entities for s in read_conll(p, tag_column=1)] == [[Entity(0, 1, "LOC")], []]
    assert [s.entities for s in read_conll(p)] == [[], [Entity(1, 2, "MISC")]]


def test_no_break_space_token_survives(tmp_path):
    p = tmp_path / "nbsp.txt"
    p.write_text("a O\n\u00a0 O\nLondon B-LOC\n", encoding="utf-8")
    (s,) = read_conll(p)
    assert s.tokens == ["a", "\u00a0", "London"] and s.entities == [Entity(2, 3, "LOC")]


@pytest.mark.parametrize("fmt", ["conll", "jsonl", "spanner"])
def test_round_trip_real_data(tmp_path, fmt):
    gold = load("wnut17", "dev")
    out = tmp_path / f"dev.{ 'jsonl' if fmt == 'jsonl' else fmt}"
    write(gold, out, fmt)
    back = read(out, fmt)
    assert [s.tokens for s in back] == [s.tokens for s in gold]
    assert [s.entities for s in back] == [s.entities for s in gold]


def test_spanner_files_equal_the_conll_files(require_data):
    """The original code's JSON (inclusive ends) reads to exactly the same sentences as the BIO file."""
    require_data("conll03", "test")
    spanner = Path(locate("conll03", "test")).parent / "spanner.test"
    require_data("conll03", "test", file=spanner)  # the MINER copy has it beside test.txt; a fetched copy does not
    a, b = read(spanner, "spanner"), load("conll03", "test")
    assert [s.tokens for s in a] == [s.tokens for s in b]
    assert [s.entities for s in a] == [s.entities for s in b]


def test_jsonl_character_offsets(tmp_path):
    text = "Angela Merkel visited Paris-based Airbus in 東京 👍🏽."
    ents = [{"start": 0, "end": 13, "label": "PER"}, {"start": 22, "end": 27, "label": "LOC"},
            {"start": 34, "end": 40, "label": "ORG"}, {"start": 44, "end": 46, "label": "LOC"}]
    p = tmp_path / "raw.jsonl"
    p.write_text(json.dumps({"text": text, "entities": ents}, ensure_ascii=False) + "\n", encoding="utf-8")
    (s,) = read(p)
    assert [s.surface(e) for e in s.entities] == ["Angela Merkel", "Paris", "Airbus", "東京"]
    assert [s.char_span(e) for e in s.entities] == [(0, 13), (22, 27), (34, 40), (44, 46)]
    out = tmp_path / "again.jsonl"
    write([s], out, "jsonl")
    (again,) = read(out)
    assert again.entities == s.entities and again.token_offsets == s.token_offsets


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["Ann", "Bo", "x", "東", "👍🏽", ",", "-", "e\u0301"]), min_size=1, max_size=12), st.data())
def test_char_offsets_always_slice_to_the_entity(words, data):
    text = " ".join(words)
    i = data.draw(st.integers(0, len(words) - 1))
    j = data.draw(st.integers(i, len(words) - 1))
    start = len(" ".join(words[:i])) + (1 if i else 0)
    end = len(" ".join(words[: j + 1]))
    s = read_record({"text": text, "entities": [{"start": start, "end": end, "label": "X"}]})
    assert s.surface(s.entities[0]) == text[start:end]


def read_record(rec):
    from linkner.data.readers import sentence_from_record

    return sentence_from_record(rec, "test")


def test_hugging_face_saved_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    feats = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                               "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"]))})
    ds = datasets.DatasetDict({"test": datasets.Dataset.from_dict({"tokens": [["Ada", "Lovelace", "wrote"]], "ner_tags": [[1, 2, 0]]}, features=feats)})
    ds.save_to_disk(str(tmp_path / "hf"))
    (s,) = read(tmp_path / "hf", "hf")
    assert s.entities == [Entity(0, 2, "PER")]
    with pytest.raises(DataError, match="no split"):
        read(tmp_path / "hf", "hf", split="train")


def test_guess_format(tmp_path):
    assert guess_format("spanner.test") == "spanner"
    assert guess_format("x.jsonl") == "jsonl"
    assert guess_format(FIX / "mini.conll") == "conll"


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "file not found"),
        ("", "is empty"),
        (b"caf\xe9 O\n", "not valid UTF-8"),
        ("EU B-ORG\nrejects X-FOO\n", r"x\.txt:2: not a B/I/E/S-TYPE"),
        ("EU NNP B-ORG\nrejects O\n", r"x\.txt:2: 2 columns where the file started with 3"),
        ("lonely\n", "expected a token and a tag"),
    ],
)
def test_bad_conll_input(tmp_path, content, message):
    p = tmp_path / "x.txt"
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif content is not None:
        p.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_conll(p)


def test_bad_jsonl_and_spanner(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"text": "Hi Bob", "entities": [{"start": 3, "end": 6, "label": "PER"}]}\n{oops\n')
    with pytest.raises(DataError, match=r"x\.jsonl:2: invalid JSON"):
        read(p)
    p.write_text('{"text": "Hi Bob", "entities": [{"start": 3, "end": 9, "label": "PER"}]}\n')
    with pytest.raises(DataError, match="outside the text"):
        read(p)
    q = tmp_path / "spanner.test"
    q.write_text('[{"context": "a b", "span_posLabel": {"0-1": "PER"}}]')
    with pytest.raises(DataError, match="bad span key"):
        read(q)


def test_unknown_dataset_and_label(tmp_path):
    with pytest.raises(DataError, match="known datasets: conll03"):
        load("conll2003")
    p = tmp_path / "x.txt"
    p.write_text("Bob B-PERSON\n")
    with pytest.raises(DataError, match="PERSON not in the schema"):
        load(p, labels=["PER", "ORG"])


def test_sentence_rejects_entities_beyond_tokens():
    with pytest.raises(ValueError):
        Sentence(["a"], [Entity(0, 2, "PER")])


def test_jsonl_writes_document_offsets_for_raw_text_sentences(tmp_path):
    doc = "Hello there. Ada Lovelace wrote code."
    base = doc.index("Ada")
    s = Sentence(["Ada", "Lovelace", "wrote", "code", "."], [Entity(0, 2, "PER")], text=doc[base:],
                 token_offsets=[(0, 3), (4, 12), (13, 18), (19, 23), (23, 24)], meta={"char_offset": base})
    write([s], tmp_path / "p.jsonl", "jsonl")
    rec = json.loads((tmp_path / "p.jsonl").read_text())["entities"][0]
    assert doc[rec["doc_char_start"] : rec["doc_char_end"]] == "Ada Lovelace" == rec["text"]


def test_writers_leave_the_old_file_whole_when_interrupted(tmp_path):
    """A write that fails midway (a generator raising, Ctrl-C) leaves the previous file byte-identical and no
    temporary file behind: the writers write beside the target and rename only when complete."""
    from linkner.data.types import Sentence
    from linkner.data.writers import write_jsonl

    path = tmp_path / "out.jsonl"
    path.write_text("previous content\n", encoding="utf-8")

    def sentences():
        yield Sentence(id="s0", tokens=["a"], entities=[])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_jsonl(sentences(), path)
    assert path.read_text(encoding="utf-8") == "previous content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    write_jsonl([Sentence(id="s1", tokens=["b"], entities=[])], path)
    assert '"b"' in path.read_text(encoding="utf-8")
