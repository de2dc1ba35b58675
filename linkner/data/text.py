"""Raw text → sentences of tokens with character offsets into the original string.

A small, dependency-free, rule-based tokenizer in the CoNLL style (punctuation split off, acronyms
such as ``U.S.`` and common abbreviations kept whole). Its one hard guarantee, checked by property
tests, is that every token is an exact slice of the input: ``text[start:end] == token``. Emoji (with
variation selectors, skin tones and ZWJ sequences), combining marks and CJK text therefore never
shift offsets: CJK ideographs, kana and hangul become one token per character, marks stay attached.
"""

from __future__ import annotations

import re

_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u0900-\u0903\u093a-\u094f"
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_EMOJI_TAIL = "\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\u20e3"
_ABBREV = r"(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Inc|Ltd|Co|Corp|vs|etc|No|Gen|Gov|Sen|Rep|Lt|Col|Capt|Mt|Ft)\."
_WORDCHAR = rf"(?:(?![{_CJK}])\w[{_MARKS}]*)"

TOKEN_RE = re.compile(
    rf"""
    \d+(?:[.,:/]\d+)+                           # numbers: 3.5, 1,000, 10:30, 1/2
  | \.{{2,}}                                      # ellipsis
  | (?:[A-Za-z]\.){{2,}}                         # acronyms: U.S., U.K., e.g.
  | {_ABBREV}(?!\w)                              # Mr., Dr., Inc. ...
  | {_WORDCHAR}+(?:['’\-&]{_WORDCHAR}+)*         # words, numbers, hyphenated and n't-style words
  | [{_CJK}][{_MARKS}]*                          # one CJK/kana/hangul character
  | [^\w\s\ufeff][{_MARKS}{_EMOJI_TAIL}]*(?:\u200d[^\w\s][{_EMOJI_TAIL}]*)*   # symbol or emoji (ZWJ sequences); never a BOM
    """,
    re.VERBOSE,
)

_SENT_END = {".", "!", "?", "…", "...", "。", "！", "？"}


def tokenize(text: str, offset: int = 0) -> list[tuple[str, int, int]]:
    """Tokens of ``text`` as ``(token, start, end)`` with offsets shifted by ``offset``."""
    return [(m.group(), m.start() + offset, m.end() + offset) for m in TOKEN_RE.finditer(text)]


def split_sentences(text: str) -> list[list[tuple[str, int, int]]]:
    """Split ``text`` into sentences of ``(token, start, end)``.

    A sentence ends at a blank line (CRLF ones too: ``linkner infer --input`` keeps a file's line ends
    so that offsets index its real characters), or after a run of ``.!?…`` tokens (plus closing quotes or
    brackets) when the next token starts with an upper-case letter, a digit, a quote or is CJK.
    Abbreviations and acronyms are single tokens, so "Mr. Smith" does not end a sentence.
    """
    sentences: list[list[tuple[str, int, int]]] = []
    pos = 0
    for block in re.split(r"(\n[ \t\r]*\n)", text):
        toks = tokenize(block, pos)
        pos += len(block)
        current: list[tuple[str, int, int]] = []
        i = 0
        while i < len(toks):
            current.append(toks[i])
            if toks[i][0] in _SENT_END:
                j = i + 1
                while j < len(toks) and toks[j][0] in _SENT_END | {'"', "'", ")", "]", "”", "’", "」"}:
                    current.append(toks[j])
                    j += 1
                nxt = toks[j][0] if j < len(toks) else None
                if nxt is None or nxt[0].isupper() or nxt[0].isdigit() or nxt[0] in "\"'“‘(" or re.match(f"[{_CJK}]", nxt):
                    sentences.append(current)
                    current = []
                i = j
                continue
            i += 1
        if current:
            sentences.append(current)
    return sentences
