"""One contract for every model kind: E-NER, SpanNER and the Hugging Face token-classification baseline.

Each kind, trained once per session (``tiny_models``, tests/conftest.py), must:

* give the same predictions after save → load (and from two separate loads);
* take odd input (emoji, CJK, Arabic, combining marks, an over-long token) without failing, with every
  entity inside its sentence; an empty sentence gets no entity from the tagger and a clear
  :class:`~linkner.errors.DataError` from a span model (it has no span to score);
* keep scores in range (span models: probabilities and uncertainties in [0, 1], tables summing to 1;
  the tagger gives no scores);
* not depend on padding: a sentence predicted alone or batched beside a much longer one gets the same
  entities and scores.
"""

from __future__ import annotations

import pytest

from linkner.data.types import Sentence
from linkner.errors import DataError

KINDS = ("ener", "spanner", "hf")


class Tagger:
    """The same three calls over both model families: load, tag, save a copy."""

    def __init__(self, kind: str, path):
        self.kind, self.path = kind, path
        if kind == "hf":
            from linkner.baselines.hf_tagger import load

            self.model, self.tokenizer = load(path)
        else:
            from linkner.models.predict import LocalModel

            self.local = LocalModel(path)

    def tag(self, sentences: list[Sentence], batch_size: int = 64) -> list[Sentence]:
        if self.kind == "hf":
            from linkner.baselines.hf_tagger import predict

            return predict(self.model, self.tokenizer, sentences, batch_size=batch_size)
        return self.local.predict_sentences(sentences, batch_size=batch_size, has_gold=False)

    def save_copy(self, out) -> None:
        if self.kind == "hf":
            self.model.save_pretrained(out)
            self.tokenizer.save_pretrained(out)
        else:
            from linkner.models.checkpoint import save_checkpoint

            m = self.local
            save_checkpoint(out, m.model, m.tokenizer, m.run, m.labels)


def _tagger(tiny_models, kind: str, path=None) -> Tagger:
    return Tagger(kind, path or getattr(tiny_models, kind))


def _view(sentences: list[Sentence]) -> list[list[tuple]]:
    return [[(e.start, e.end, e.label, e.score) for e in s.entities] for s in sentences]


SENTENCES = [Sentence("Peter Blackburn visited Paris .".split()),
             Sentence("Angela Merkel met officials in Berlin and Bonn .".split()),
             Sentence("The United States said Microsoft grew .".split())]


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_gives_the_same_predictions(tiny_models, kind, tmp_path):
    first = _tagger(tiny_models, kind)
    expected = _view(first.tag(SENTENCES))
    assert _view(_tagger(tiny_models, kind).tag(SENTENCES)) == expected
    first.save_copy(tmp_path / "copy")
    assert _view(_tagger(tiny_models, kind, tmp_path / "copy").tag(SENTENCES)) == expected


ODD = [Sentence(["🙂", "Paris", "🇫🇷", "!"]), Sentence(["東京", "で", "会議"]), Sentence(["مرحبا", "بالعالم"]),
       Sentence(["Zoë", "Cafe\u0301", "naïve"]), Sentence(["a" * 300])]


@pytest.mark.parametrize("kind", KINDS)
def test_odd_input_is_tagged_within_its_sentence(tiny_models, kind):
    t = _tagger(tiny_models, kind)
    preds = t.tag(ODD)
    assert [s.tokens for s in preds] == [s.tokens for s in ODD]
    for s in preds:
        assert all(0 <= e.start < e.end <= len(s.tokens) for e in s.entities)
    empty = Sentence([], id="e1")
    if kind == "hf":
        assert t.tag([empty])[0].entities == []
    else:
        with pytest.raises(DataError, match="sentence e1 has no tokens"):
            t.tag([empty])


@pytest.mark.parametrize("kind", KINDS)
def test_scores_are_in_range(tiny_models, kind):
    preds = _tagger(tiny_models, kind).tag(SENTENCES + ODD)
    entities = [e for s in preds for e in s.entities]
    if kind == "hf":
        assert all(e.score is None for e in entities)  # a tagger's argmax tags carry no probability
        return
    for e in entities:
        assert 0.0 <= e.score <= 1.0
        assert abs(sum(e.extra["probs"].values()) - 1.0) < 1e-4 and e.score == pytest.approx(max(e.extra["probs"].values()))
        assert all(0.0 <= u <= 1.0 for u in e.extra["uncertainty"].values())


@pytest.mark.parametrize("kind", KINDS)
def test_predictions_do_not_depend_on_padding(tiny_models, kind):
    t = _tagger(tiny_models, kind)
    short = SENTENCES[0]
    long = Sentence(("word " * 60 + "Berlin").split())
    alone = t.tag([short], batch_size=1)[0]
    padded = t.tag([short, long], batch_size=2)[0]
    assert [(e.start, e.end, e.label) for e in alone.entities] == [(e.start, e.end, e.label) for e in padded.entities]
    for a, b in zip(alone.entities, padded.entities):
        assert (a.score is None and b.score is None) or a.score == pytest.approx(b.score, abs=1e-5)
