"""Span enumeration, BIO ⇄ spans and greedy decoding, checked by properties rather than examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkner.data.spans import Candidate, entities_to_tags, enumerate_spans, greedy_decode, split_tag, tags_to_entities
from linkner.data.types import Entity

LABELS = ["PER", "ORG", "creative-work", "geo-loc"]


@st.composite
def sentence_with_entities(draw):
    """A token count and a random set of non-overlapping entities inside it."""
    n = draw(st.integers(0, 30))
    entities, pos = [], 0
    while pos < n:
        pos += draw(st.integers(0, 4))
        if pos >= n:
            break
        length = draw(st.integers(1, min(6, n - pos)))
        entities.append(Entity(pos, pos + length, draw(st.sampled_from(LABELS))))
        pos += length
    return n, entities


@given(st.integers(0, 60), st.integers(1, 8))
def test_enumerate_spans_counts_and_order(n, width):
    spans = enumerate_spans(n, width)
    assert spans == sorted(spans)
    assert len(set(spans)) == len(spans)
    assert all(0 <= s < e <= n and e - s <= width for s, e in spans)
    expected = width * n - width * (width - 1) // 2 if n >= width else n * (n + 1) // 2
    assert len(spans) == expected


@pytest.mark.parametrize("scheme", ["IOB2", "BIOES"])
@given(data=sentence_with_entities())
def test_tags_round_trip(scheme, data):
    n, entities = data
    tags = entities_to_tags(n, entities, scheme)
    assert len(tags) == n
    assert tags_to_entities(tags) == entities


@given(data=sentence_with_entities())
def test_iob1_reads_like_iob2(data):
    """IOB1 writes I- at an entity start unless it touches a same-type entity; chunks are the same."""
    n, entities = data
    tags = entities_to_tags(n, entities, "IOB2")
    iob1 = list(tags)
    for i, t in enumerate(tags):
        if t.startswith("B-") and not (i > 0 and tags[i - 1] != "O" and tags[i - 1][2:] == t[2:]):
            iob1[i] = "I-" + t[2:]
    assert tags_to_entities(iob1) == entities


def test_invalid_sequences_follow_conlleval():
    assert tags_to_entities(["O", "I-PER", "I-PER"]) == [Entity(1, 3, "PER")]
    assert tags_to_entities(["B-PER", "I-ORG"]) == [Entity(0, 1, "PER"), Entity(1, 2, "ORG")]
    assert tags_to_entities(["B-LOC", "E-LOC", "E-LOC"]) == [Entity(0, 2, "LOC"), Entity(2, 3, "LOC")]
    assert tags_to_entities(["S-PER", "I-PER"]) == [Entity(0, 1, "PER"), Entity(1, 2, "PER")]


@pytest.mark.parametrize("bad", ["PER", "X-PER", "B-", "B_PER", ""])
def test_split_tag_rejects_malformed(bad):
    with pytest.raises(ValueError):
        split_tag(bad)


def test_entities_to_tags_refuses_overlap():
    with pytest.raises(ValueError, match="overlaps"):
        entities_to_tags(5, [Entity(0, 2, "PER"), Entity(1, 3, "ORG")])


candidates = st.lists(
    st.builds(
        lambda s, w, lab, p: Candidate(s, s + w, lab, p),
        st.integers(0, 20), st.integers(1, 5), st.sampled_from(["PER", "LOC", "O"]),
        st.floats(0, 1, allow_nan=False),
    ),
    max_size=40,
)


@given(candidates)
def test_greedy_decode_never_overlaps_and_is_maximal(cands):
    kept = greedy_decode(cands)
    for a, b in zip(kept, kept[1:]):
        assert a.end <= b.start, "decoded spans overlap"
    assert all(c.label != "O" for c in kept)
    # maximal: every dropped non-O candidate overlaps a kept one that ranks at least as high
    rank = lambda c: (c.prob, c.end - c.start)  # noqa: E731
    for c in cands:
        if c.label == "O" or c in kept:
            continue
        assert any(k.start < c.end and c.start < k.end and rank(k) >= rank(c) for k in kept)


def test_greedy_decode_prefers_probability_then_length():
    kept = greedy_decode([Candidate(0, 1, "PER", 0.9), Candidate(0, 2, "PER", 0.9), Candidate(1, 3, "ORG", 0.95)])
    assert kept == [Candidate(1, 3, "ORG", 0.95)] or kept == [Candidate(0, 1, "PER", 0.9), Candidate(1, 3, "ORG", 0.95)]
    assert greedy_decode([Candidate(0, 1, "PER", 0.9), Candidate(0, 2, "PER", 0.9)]) == [Candidate(0, 2, "PER", 0.9)]
