"""Span features, long-sentence windows and length bucketing (tokenizer only; no model)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkner.data.spans import enumerate_spans
from linkner.data.types import Entity, Sentence
from linkner.models.encoders import load_tokenizer, minilm_path
from linkner.models.features import Encoded, Featurizer, case_class, collate, inference_batches, span_layout
from linkner.models.train import bucket_batches

LABELS = {"O": 0, "PER": 1, "LOC": 2}


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(str(minilm_path()))


def test_case_classes():
    assert [case_class(w) for w in ["EU", "lamb", "Peter", "1996", "1996-08-22", "x1"]] == [1, 2, 3, 4, 5, 2]


def test_span_rows_match_enumeration_and_labels(tok):
    s = Sentence("Peter Blackburn visited Paris yesterday".split(), [Entity(0, 2, "PER"), Entity(3, 4, "LOC")])
    enc = Featurizer(tok, LABELS, 5, 512, neg_span_weight=0.6).encode([s])[0]
    assert [tuple(x) for x in enc.spans] == enumerate_spans(5, 5)
    rows = {tuple(x): j for j, x in enumerate(enc.spans)}
    assert enc.label[rows[(0, 2)]] == 1 and enc.label[rows[(3, 4)]] == 2 and enc.label.sum() == 3
    assert enc.weight[rows[(0, 2)]] == 1.0 and enc.weight[rows[(0, 1)]] == pytest.approx(0.6)
    assert list(enc.morph[rows[(0, 2)]]) == [3, 3, 0, 0, 0]
    assert np.all(enc.width == np.minimum(enc.b - enc.a, 4)) and np.all(enc.a >= 1)
    ids = enc.windows[0]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id


def test_words_without_subwords_become_unk(tok):
    s = Sentence(["A", "\u200b", "b", "\ufe0f"], [])
    enc = Featurizer(tok, LABELS, 3, 512).encode([s])[0]
    assert enc.windows[0].count(tok.unk_token_id) == 2 and len(enc.spans) == len(enumerate_spans(4, 3))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 120), window=st.integers(12, 40), L=st.integers(1, 5), seed=st.integers(0, 1000))
def test_windows_cover_every_span(tok, n, window, L, seed):
    rng = np.random.default_rng(seed)
    vocab = ["the", "internationalisation", "a", "Paris", "supercalifragilistic", "1996-08-22", "!"]
    words = [vocab[i] for i in rng.integers(0, len(vocab), n)]
    f = Featurizer(tok, LABELS, L, window)
    enc = f.encode([Sentence(words)])[0]
    assert all(len(w) <= window for w in enc.windows)
    pieces = f._pieces([words])[0]
    for (s, e), w, a, b in zip(enc.spans, enc.win, enc.a, enc.b):
        ids = enc.windows[w]
        # the span's subwords in its window are exactly the pieces of words s..e-1
        assert ids[a : b + 1] == [t for p in pieces[s:e] for t in p]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 700), L=st.integers(1, 6))
def test_span_layout_is_the_enumeration_with_word_slots(n, L):
    spans, slots = span_layout(n, L)  # n > 512 takes the uncached path
    assert [tuple(x) for x in spans.tolist()] == enumerate_spans(n, L)
    for (s, e), row in zip(spans.tolist()[:50] + spans.tolist()[-50:], np.concatenate([slots[:50], slots[-50:]]).tolist()):
        assert row == [s + k if s + k < e else n for k in range(L)]
    assert not spans.flags.writeable and not slots.flags.writeable  # shared between sentences of one length


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), L=st.integers(1, 5), seed=st.integers(0, 1000))
def test_single_window_features_match_their_definition(tok, n, L, seed):
    rng = np.random.default_rng(seed)
    vocab = ["the", "internationalisation", "EU", "Paris", "1996", "x1", "!", "\u200b"]
    words = [vocab[i] for i in rng.integers(0, len(vocab), n)]
    f = Featurizer(tok, LABELS, L, 512)
    enc = f.encode([Sentence(words)])[0]
    pieces = f._pieces([words])[0]
    assert len(enc.windows) == 1 and enc.windows[0] == [tok.cls_token_id, *(t for p in pieces for t in p), tok.sep_token_id]
    for (s, e), a, b, morph in zip(enc.spans.tolist(), enc.a, enc.b, enc.morph.tolist()):
        assert enc.windows[0][a : b + 1] == [t for p in pieces[s:e] for t in p]
        assert morph == [case_class(words[s + k]) if s + k < e else 0 for k in range(L)]


def test_collate_flattens_indices(tok):
    f = Featurizer(tok, LABELS, 3, 512)
    encs = f.encode([Sentence("a b c".split()), Sentence("Paris is nice today".split())])
    batch = collate(encs)
    T = batch["input_ids"].shape[1]
    assert batch["start_index"].shape[0] == sum(len(e.spans) for e in encs) == sum(batch["n_spans"])
    assert int(batch["start_index"][len(encs[0].spans)]) == T + int(encs[1].a[0])
    assert batch["attention_mask"].sum().item() == sum(len(w) for e in encs for w in e.windows)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=0, max_size=300), st.integers(1, 40), st.integers(1, 5), st.integers(0, 99))
def test_bucketing_covers_each_sentence_once(lengths, batch_size, factor, seed):
    batches = bucket_batches(lengths, batch_size, np.random.default_rng(seed), factor)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(b) <= batch_size for b in batches)


def _fake_encoded(n_windows: int, width: int) -> Encoded:
    z = np.zeros(0, dtype=np.int64)
    return Encoded([[1] * width] * n_windows, np.zeros((0, 2), dtype=np.int64), z, z, z, z, z,
                   np.zeros((0, 1), dtype=np.int64), z, np.zeros(0, dtype=np.float32), n_windows * width)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 200)), max_size=120), st.integers(1, 64),
       st.one_of(st.none(), st.integers(1, 5000)))
def test_inference_batches_cover_each_item_once_within_budget(shapes, batch_size, max_tokens):
    items = [_fake_encoded(nw, w) for nw, w in shapes]
    batches = inference_batches(items, batch_size, max_tokens)
    assert sorted(i for b in batches for i in b) == list(range(len(items)))
    budget = max_tokens if max_tokens is not None else batch_size * 32
    for b in batches:
        assert 1 <= len(b) <= batch_size
        slots = sum(len(items[i].windows) for i in b) * max(len(items[i].windows[0]) for i in b)
        assert len(b) == 1 or slots <= budget  # only a single oversized item may exceed the budget
    assert inference_batches(items, batch_size, max_tokens) == batches  # deterministic


def test_inference_batches_give_long_sentences_smaller_batches():
    items = [_fake_encoded(1, 10)] * 64 + [_fake_encoded(1, 120)] * 36
    batches = inference_batches(items, 64)  # budget 2048 slots
    assert batches[0] == list(range(64)) and all(len(b) <= 2048 // 120 for b in batches[1:])
