"""Sentences → encoder windows and per-span index/feature arrays, and batches of them.

Word → subword alignment comes from the fast tokenizer's ``word_ids`` (``is_split_into_words``),
not from the original's character-offset arithmetic, so no span is ever silently dropped or shifted
(method notes §3.2, §11.6):

* a word the tokenizer turns into nothing (a lone zero-width space, a control character) is encoded
  as the unknown token;
* a word is capped at ``max_word_subwords`` subwords (first ones + the last one);
* a sentence longer than one encoder window is encoded as overlapping windows of whole words; each
  span is read from the window in which it sits most centrally. The overlap is at least L−1 words,
  so every span of up to L words lies entirely inside some window. Nothing is truncated.

Every enumerated span is kept; its features are built from the same list, so they cannot misalign.
Spans are kept flat (no per-sentence padding): a batch holds ``sum(n_spans)`` rows, and endpoints
index the flattened ``[windows × time]`` hidden states.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from linkner.data.types import Sentence
from linkner.errors import DataError


@functools.lru_cache(maxsize=1 << 16)  # words repeat: most calls are hits
def case_class(word: str) -> int:
    """isupper=1, islower=2, istitle=3, isdigit=4, other=5 (Python predicates, in that priority)."""
    if word.isupper():
        return 1
    if word.islower():
        return 2
    if word.istitle():
        return 3
    if word.isdigit():
        return 4
    return 5


@dataclass
class Encoded:
    """One sentence ready for the model.

    ``windows[i]`` are subword ids with special tokens. Span arrays have one row per enumerated span
    (order of :func:`linkner.data.spans.enumerate_spans`): ``win`` its window, ``a``/``b`` the positions
    of its first and last subword in that window, ``width`` = min(b−a, L−1), ``nwords`` 1..L,
    ``morph`` L case classes (0-padded), ``label`` gold label index (0 = O) and ``weight``.
    """

    windows: list[list[int]]
    spans: np.ndarray  # (n, 2) word [start, end)
    win: np.ndarray
    a: np.ndarray
    b: np.ndarray
    width: np.ndarray
    nwords: np.ndarray
    morph: np.ndarray  # (n, L)
    label: np.ndarray
    weight: np.ndarray
    n_subwords: int  # total subwords (for length bucketing)


class Featurizer:
    """Turns sentences into :class:`Encoded` for one tokenizer and span configuration."""

    def __init__(self, tokenizer: Any, label_to_id: dict[str, int], max_span_len: int, window: int,
                 max_word_subwords: int = 24, neg_span_weight: float = 1.0) -> None:
        self.tok = tokenizer
        self.label_to_id = label_to_id
        self.L = max_span_len
        self.window = window
        budget = window - 2
        # Every span of L words must fit one window: L words × cap subwords ≤ budget.
        self.cap = max(1, min(max_word_subwords, budget // max_span_len))
        self.neg_weight = neg_span_weight
        self.cls = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        self.sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        self.unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
        if self.cls is None or self.sep is None:
            raise DataError("the encoder's tokenizer has no CLS/SEP (or BOS/EOS) tokens to frame a window")

    # ---------------------------------------------------------------- subwords per word
    def _pieces(self, batch_words: list[list[str]]) -> list[list[list[int]]]:
        enc = self.tok(batch_words, is_split_into_words=True, add_special_tokens=False, verbose=False)
        out = []
        for i, words in enumerate(batch_words):
            pieces: list[list[int]] = [[] for _ in words]
            for tid, wid in zip(enc["input_ids"][i], enc.word_ids(i)):
                if wid is not None:
                    pieces[wid].append(tid)
            for p in pieces:
                if not p:
                    p.append(self.unk)
                elif len(p) > self.cap:
                    p[self.cap - 1 :] = [p[-1]]
            out.append(pieces)
        return out

    # ---------------------------------------------------------------- windows
    def _windows(self, counts: list[int]) -> list[tuple[int, int]]:
        n, budget = len(counts), self.window - 2
        windows, start = [], 0
        while True:
            end, tot = start, 0
            while end < n and tot + counts[end] <= budget:
                tot += counts[end]
                end += 1
            windows.append((start, end))
            if end >= n:
                return windows
            ov, sub = 0, 0  # trailing words sharing a quarter of the budget, at least L−1
            while ov < end - start - 1 and (ov < self.L - 1 or sub + counts[end - ov - 1] <= budget // 4):
                sub += counts[end - ov - 1]
                ov += 1
            start = max(start + 1, end - ov)

    @staticmethod
    def _best_window(s: int, e: int, windows: list[tuple[int, int]], n: int) -> int:
        best, best_margin = -1, -1.0
        for i, (ws, we) in enumerate(windows):
            if ws <= s and e <= we:
                left = float("inf") if ws == 0 else s - ws
                right = float("inf") if we == n else we - e
                margin = min(left, right)
                if margin > best_margin:
                    best, best_margin = i, margin
        return best

    # ---------------------------------------------------------------- sentences
    def encode(self, sentences: list[Sentence], with_labels: bool = True) -> list[Encoded]:
        out: list[Encoded] = []
        step = 256
        for i in range(0, len(sentences), step):
            chunk = sentences[i : i + step]
            for s, pieces in zip(chunk, self._pieces([list(x.tokens) for x in chunk])):
                out.append(self._encode_one(s, pieces, with_labels))
        return out

    def _encode_one(self, sent: Sentence, pieces: list[list[int]], with_labels: bool) -> Encoded:
        n, L = len(sent.tokens), self.L
        if n == 0:
            raise DataError(f"sentence {sent.id or '?'} has no tokens")
        counts = [len(p) for p in pieces]
        windows = self._windows(counts)
        span_arr, morph_index = span_layout(n, L)
        m = len(span_arr)
        win = np.zeros(m, dtype=np.int64)
        if len(windows) == 1:  # the common case, vectorised: window 0 holds every word, after the CLS token
            ids_per_window = [[self.cls, *(t for p in pieces for t in p), self.sep]]
            last = np.cumsum(counts)  # position of each word's last subword (CLS is at 0)
            first = last - np.asarray(counts) + 1
            a, b = first[span_arr[:, 0]], last[span_arr[:, 1] - 1]
        else:
            ids_per_window, first_pos, last_pos = [], [], []  # positions per window, per word
            for ws, we in windows:
                ids, fp, lp = [self.cls], {}, {}
                for w in range(ws, we):
                    fp[w] = len(ids)
                    ids.extend(pieces[w])
                    lp[w] = len(ids) - 1
                ids.append(self.sep)
                ids_per_window.append(ids)
                first_pos.append(fp)
                last_pos.append(lp)
            a = np.zeros(m, dtype=np.int64)
            b = np.zeros(m, dtype=np.int64)
            for j, (s, e) in enumerate(span_arr.tolist()):
                w = self._best_window(s, e, windows, n)
                win[j], a[j], b[j] = w, first_pos[w][s], last_pos[w][e - 1]
        nwords = span_arr[:, 1] - span_arr[:, 0]
        # case classes of the span's words, 0 past its end: index n of the padded array is that 0
        cases = np.asarray([*map(case_class, sent.tokens), 0], dtype=np.int64)
        morph = cases[morph_index]
        label = np.zeros(m, dtype=np.int64)
        if with_labels and sent.entities:
            index = {(s, e): j for j, (s, e) in enumerate(span_arr.tolist())}
            for ent in sent.entities:
                j = index.get((ent.start, ent.end))
                if j is None:
                    continue  # longer than L words: cannot be enumerated (still counted by the metric)
                if ent.label not in self.label_to_id:
                    raise DataError(f"sentence {sent.id or '?'}: label {ent.label!r} is not in the model's labels")
                label[j] = self.label_to_id[ent.label]
        weight = np.where(label > 0, 1.0, self.neg_weight).astype(np.float32)
        return Encoded(
            windows=ids_per_window, spans=span_arr, win=win, a=a, b=b,
            width=np.minimum(b - a, L - 1), nwords=nwords, morph=morph, label=label, weight=weight,
            n_subwords=sum(len(w) for w in ids_per_window),
        )


_LAYOUT_CACHE_MAX_WORDS = 512  # sentences up to this length share their (read-only) layout arrays


def span_layout(n: int, L: int) -> tuple[np.ndarray, np.ndarray]:
    """The enumerated spans of an n-word sentence and, per span, the word index of each of its L
    word slots (``n`` past the span's end), both read-only.

    Same order as :func:`linkner.data.spans.enumerate_spans` (start, then end). They depend on ``n`` and
    ``L`` only, so sentences of one length share them: building them per sentence was a third of
    featurisation time.
    """
    if n <= _LAYOUT_CACHE_MAX_WORDS:
        return _cached_layout(n, L)
    return _layout(n, L)


def _layout(n: int, L: int) -> tuple[np.ndarray, np.ndarray]:
    starts = np.repeat(np.arange(n), L)
    ends = starts + np.tile(np.arange(1, L + 1), n)
    keep = ends <= n
    spans = np.stack([starts[keep], ends[keep]], axis=1)
    slots = spans[:, :1] + np.arange(L)[None, :]
    slots[slots >= spans[:, 1:2]] = n
    spans.setflags(write=False)
    slots.setflags(write=False)
    return spans, slots


_cached_layout = functools.lru_cache(maxsize=_LAYOUT_CACHE_MAX_WORDS * 2)(_layout)


def inference_batches(items: list[Encoded], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Batches of item indices for inference: sorted by window length, at most ``batch_size`` items and
    at most ``max_tokens`` padded subword slots (windows × longest window) each.

    A fixed sentence count alone pads a batch that straddles short and long sentences to the longest
    one (on the first 100 CoNLL test sentences that wasted ~2/3 of the encoder's work); the slot budget
    gives long sentences smaller batches. Default budget: ``batch_size × 32`` slots, which keeps every
    encoder call large enough to run at full speed on a CPU. Deterministic; every index exactly once.
    """
    budget = max_tokens if max_tokens is not None else batch_size * 32
    width = [max((len(w) for w in it.windows), default=0) for it in items]
    order = sorted(range(len(items)), key=lambda i: (width[i], len(items[i].windows), i))
    batches: list[list[int]] = []
    cur: list[int] = []
    n_win = 0
    for i in order:
        nw = len(items[i].windows)
        if cur and (len(cur) >= batch_size or (n_win + nw) * width[i] > budget):
            batches.append(cur)
            cur, n_win = [], 0
        cur.append(i)
        n_win += nw
    if cur:
        batches.append(cur)
    return batches


def collate(items: list[Encoded], pad_id: int = 0) -> dict[str, Any]:
    """Stack sentences into one batch of padded windows and flat span rows (torch tensors)."""
    import torch

    windows = [w for it in items for w in it.windows]
    T = max(len(w) for w in windows)
    ids = np.full((len(windows), T), pad_id, dtype=np.int64)
    mask = np.zeros((len(windows), T), dtype=np.int64)
    for i, w in enumerate(windows):
        ids[i, : len(w)] = w
        mask[i, : len(w)] = 1
    offs, base = [], 0
    for it in items:
        offs.append(base)
        base += len(it.windows)
    win = np.concatenate([it.win + o for it, o in zip(items, offs)])
    cat = lambda name: torch.from_numpy(np.concatenate([getattr(it, name) for it in items]))  # noqa: E731
    return {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(mask),
        "start_index": torch.from_numpy(win * T) + cat("a"),
        "end_index": torch.from_numpy(win * T) + cat("b"),
        "width": cat("width"),
        "nwords": cat("nwords"),
        "morph": cat("morph"),
        "labels": cat("label"),
        "weights": cat("weight"),
        "n_spans": [len(it.spans) for it in items],
    }
