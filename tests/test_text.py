"""The raw-text tokenizer's one hard guarantee: tokens are exact slices of the input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from linkner.data.text import split_sentences, tokenize

ALPHABET = st.sampled_from(list("abc XYZ.,!?'-\n\t") + ["é", "e\u0301", "東京", "👍🏽", "👨\u200d👩\u200d👧", "❤️", "U.S.", "Mr.", "3.5", "\u00a0", "ß"])


@settings(max_examples=300)
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_tokens_slice_the_text(text):
    toks = tokenize(text)
    for tok, a, b in toks:
        assert text[a:b] == tok and tok.strip() == tok and tok
    assert all(x[2] <= y[1] for x, y in zip(toks, toks[1:]))
    # nothing but whitespace is dropped
    covered = set().union(*[set(range(a, b)) for _, a, b in toks]) if toks else set()
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_sentences_partition_the_tokens(text):
    assert [t for s in split_sentences(text) for t in s] == tokenize(text)


def test_sentence_splitting_keeps_abbreviations():
    sents = split_sentences("Mr. Smith met the U.S. team. They won 3.5 games!\n\nNew paragraph")
    assert [[t for t, _, _ in s] for s in sents] == [
        ["Mr.", "Smith", "met", "the", "U.S.", "team", "."],
        ["They", "won", "3.5", "games", "!"],
        ["New", "paragraph"],
    ]


def test_cjk_and_emoji_tokens():
    assert [t for t, _, _ in tokenize("東京👍🏽 café")] == ["東", "京", "👍🏽", "café"]
