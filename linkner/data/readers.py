"""Readers from every format the paper's data comes in into :class:`~linkner.data.types.Sentence`.

* CoNLL/BIO column files (token first, tag in a chosen column; IOB1, IOB2, BIOES; ``-DOCSTART-``;
  blank or whitespace-only separator lines; TAB- or space-separated);
* the original LinkNER/SpanNER "spanner JSON" (inclusive ``"start;end"`` word spans);
* JSONL, either raw text with character-offset entities ``{"text", "entities": [{"start", "end",
  "label"}]}`` or tokenized ``{"tokens", "entities": [{"start", "end", "label"}]}`` (token indices,
  exclusive end) — the latter is also what ``linkner infer`` writes;
* Hugging Face ``datasets`` (a saved dataset directory, or a hub name where there is internet).

Every malformed input raises :class:`~linkner.errors.DataError` naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from linkner.data.spans import tags_to_entities
from linkner.data.text import tokenize
from linkner.data.types import Entity, Sentence
from linkner.errors import DataError, where

DOCSTART = "-DOCSTART-"
FORMATS = ("conll", "spanner", "jsonl", "hf")


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a directory; give a file (or a saved Hugging Face dataset with --format hf)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not valid UTF-8 (byte {exc.start}); convert it with iconv -t utf-8") from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not text.strip():
        raise DataError(f"{path} is empty")
    return text


def guess_format(path: str | Path) -> str:
    """Guess a file's format from its name, then from its first non-blank character."""
    p = Path(path)
    if p.is_dir():
        return "hf"
    name = p.name.lower()
    if name.startswith("spanner.") or name.endswith(".spanner.json"):
        return "spanner"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "spanner"
    if p.exists():
        with p.open(encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096).lstrip()
        if head.startswith("["):
            return "spanner"
        if head.startswith("{"):
            return "jsonl"
    return "conll"


def read(path: str | Path, fmt: str | None = None, **options: Any) -> list[Sentence]:
    """Read sentences from ``path`` in ``fmt`` (guessed when ``None``); options go to the reader."""
    fmt = fmt or guess_format(path)
    readers = {"conll": read_conll, "spanner": read_spanner, "jsonl": read_jsonl, "hf": read_hf}
    if fmt not in readers:
        raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return readers[fmt](path, **options)


def _split_fields(line: str) -> list[str]:
    # Split on TAB when the line has one, else on single spaces: never on other Unicode
    # whitespace, so a token made of a no-break space (TwitterNER dev) survives.
    parts = line.split("\t") if "\t" in line else line.split(" ")
    return [p for p in parts if p != ""]


def _conll_blocks(path: Path) -> Iterator[list[tuple[int, list[str]]]]:
    block: list[tuple[int, list[str]]] = []
    for lineno, raw in enumerate(_read_text(path).splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip(" \t"):
            if block:
                yield block
            block = []
            continue
        block.append((lineno, _split_fields(line)))
    if block:
        yield block


def read_conll(path: str | Path, tag_column: int = -1, keep_docstart: bool = False) -> list[Sentence]:
    """Read a CoNLL/BIO column file. ``tag_column`` indexes the fields (default: the last one).

    ``-DOCSTART-`` lines are dropped (they are document markers, not sentences) unless
    ``keep_docstart``. The column count must be the same on every line of the file.
    """
    path = Path(path)
    sentences: list[Sentence] = []
    n_cols: int | None = None
    for block in _conll_blocks(path):
        tokens: list[str] = []
        tags: list[str] = []
        first_line = block[0][0]
        for lineno, fields in block:
            if n_cols is None:
                n_cols = len(fields)
                if n_cols < 2:
                    raise DataError(f"{where(path, lineno)}: expected a token and a tag, found {fields!r}")
            if len(fields) != n_cols:
                raise DataError(
                    f"{where(path, lineno)}: {len(fields)} columns where the file started with {n_cols}"
                )
            if fields[0] == DOCSTART and not keep_docstart:
                continue
            try:
                tag = fields[tag_column]
            except IndexError:
                raise DataError(f"{where(path, lineno)}: no column {tag_column} in {fields!r}") from None
            tokens.append(fields[0])
            tags.append(tag)
        if not tokens:
            continue
        try:
            entities = tags_to_entities(tags)
        except ValueError as exc:
            bad = next(ln for (ln, f), t in zip(block, tags) if _bad_tag(t))
            raise DataError(f"{where(path, bad)}: {exc}") from None
        sentences.append(Sentence(tokens, entities, id=f"{path.stem}:{len(sentences)}", meta={"line": first_line}))
    if not sentences:
        raise DataError(f"{path} holds no sentences")
    return sentences


def _bad_tag(tag: str) -> bool:
    from linkner.data.spans import split_tag

    try:
        split_tag(tag)
    except ValueError:
        return True
    return False


def read_spanner(path: str | Path, keep_docstart: bool = False) -> list[Sentence]:
    """Read the original code's JSON: ``[{"context": "w1 w2 …", "span_posLabel": {"s;e": LABEL}}]``.

    Keys are inclusive word indices; they become exclusive-end entities here.
    """
    path = Path(path)
    try:
        records = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{where(path, exc.lineno)}: invalid JSON ({exc.msg})") from None
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON list of sentences (spanner format)")
    sentences = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not isinstance(rec.get("context"), str):
            raise DataError(f"{path}: record {i} needs a 'context' string of space-separated words")
        if not isinstance(rec.get("span_posLabel", {}), dict):
            raise DataError(f"{path}: record {i}: 'span_posLabel' must map 'start;end' to a label")
        tokens = [t for t in rec["context"].split(" ") if t]
        if not tokens or (tokens == [DOCSTART] and not keep_docstart):
            continue
        entities = []
        for key, label in rec.get("span_posLabel", {}).items():
            try:
                s, e = (int(x) for x in key.split(";"))
                entities.append(Entity(s, e + 1, label))
            except ValueError:
                raise DataError(f"{path}: record {i}: bad span key {key!r} (expected 'start;end')") from None
        try:
            sentences.append(Sentence(tokens, sorted(entities), id=f"{path.stem}:{len(sentences)}"))
        except ValueError as exc:
            raise DataError(f"{path}: record {i}: {exc}") from None
    if not sentences:
        raise DataError(f"{path} holds no sentences")
    return sentences


def _entity_from_chars(text: str, toks: list[tuple[str, int, int]], ent: dict, ctx: str) -> Entity:
    cs, ce, label = ent["start"], ent["end"], ent["label"]
    if not (0 <= cs < ce <= len(text)):
        raise DataError(f"{ctx}: character span [{cs}, {ce}) outside the text")
    starts = [i for i, (_, a, _) in enumerate(toks) if a == cs]
    ends = [i for i, (_, _, b) in enumerate(toks) if b == ce]
    if not starts or not ends:
        raise DataError(f"{ctx}: entity {text[cs:ce]!r} [{cs}, {ce}) does not fall on token boundaries")
    return Entity(starts[0], ends[0] + 1, label)


def _split_at(toks: list[tuple[str, int, int]], cuts: set[int]) -> list[tuple[str, int, int]]:
    """Split tokens at the given character positions so entity edges become token edges."""
    out = []
    for tok, a, b in toks:
        inner = sorted(c for c in cuts if a < c < b)
        for x, y in zip([a, *inner], [*inner, b]):
            out.append((tok[x - a : y - a], x, y))
    return out


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_record(rec: dict, ents: object, ctx: str) -> None:
    """Shapes Python would otherwise accept silently: a string is iterable, so ``"tokens": "John Smith"``
    would become ten one-character tokens, and ``int("3")`` or ``int(2.7)`` would move an entity."""
    if not isinstance(ents, list) or any(not isinstance(e, dict) or not {"start", "end", "label"} <= e.keys() for e in ents):
        raise DataError(f"{ctx}: 'entities' must be a list of {{start, end, label}} objects")
    for e in ents:
        if not (_is_int(e["start"]) and _is_int(e["end"])):
            raise DataError(f"{ctx}: entity start/end must be integers, not {e['start']!r}/{e['end']!r}")
        if not isinstance(e["label"], str) or not e["label"]:
            raise DataError(f"{ctx}: entity label must be a non-empty string, not {e['label']!r}")
    if "tokens" in rec:
        tokens = rec["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            shown = f"a {type(tokens).__name__}" if not isinstance(tokens, list) else "a list holding non-strings"
            raise DataError(f"{ctx}: 'tokens' must be a list of strings (one per token), not {shown}")
        offsets = rec.get("token_offsets")
        if offsets is not None and (not isinstance(offsets, list) or not all(
                isinstance(o, list) and len(o) == 2 and all(_is_int(x) for x in o) for o in offsets)):
            raise DataError(f"{ctx}: 'token_offsets' must be a list of [start, end] integer pairs")
    if "text" in rec and rec["text"] is not None and not isinstance(rec["text"], str):
        raise DataError(f"{ctx}: 'text' must be a string, not a {type(rec['text']).__name__}")


def sentence_from_record(rec: dict, ctx: str, index: int = 0) -> Sentence:
    """Build a sentence from one JSONL record (raw-text or tokenized form)."""
    ents = rec.get("entities", [])
    _check_record(rec, ents, ctx)
    sid = str(rec.get("id", f"{index}"))
    try:
        if "tokens" in rec:
            tokens = rec["tokens"]
            offsets = [tuple(o) for o in rec["token_offsets"]] if rec.get("token_offsets") else None
            entities = [Entity(int(e["start"]), int(e["end"]), e["label"], e.get("prob"), _extra(e)) for e in ents]
            meta = {k: v for k, v in rec.items() if k not in _RECORD_KEYS}
            return Sentence(tokens, sorted(entities), id=sid, text=rec.get("text"), token_offsets=offsets, meta=meta)
        if "text" in rec:
            text = rec["text"]
            cuts = {int(e[k]) for e in ents for k in ("start", "end")}
            toks = _split_at(tokenize(text), cuts)
            entities = [_entity_from_chars(text, toks, e, ctx) for e in ents]
            return Sentence([t for t, _, _ in toks], sorted(entities), id=sid, text=text, token_offsets=[(a, b) for _, a, b in toks])
    except (TypeError, ValueError) as exc:
        raise DataError(f"{ctx}: {exc}") from None
    raise DataError(f"{ctx}: a record needs 'tokens' or 'text'")


_RECORD_KEYS = {"id", "tokens", "entities", "text", "token_offsets"}


def _extra(e: dict) -> dict:
    return {k: v for k, v in e.items() if k not in ("start", "end", "label", "prob")}


def read_jsonl(path: str | Path) -> list[Sentence]:
    """Read JSONL: one sentence per line, raw-text (character offsets) or tokenized form."""
    path = Path(path)
    sentences = []
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where(path, lineno)}: invalid JSON ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise DataError(f"{where(path, lineno)}: expected a JSON object per line")
        sentences.append(sentence_from_record(rec, where(path, lineno), len(sentences)))
    return sentences


def read_hf(name_or_path: str | Path, split: str = "test", tokens_column: str = "tokens", tags_column: str = "ner_tags") -> list[Sentence]:
    """Read a Hugging Face dataset: a directory saved with ``save_to_disk`` or a hub name.

    Integer tags are mapped through the column's ``ClassLabel`` names; string tags are used as is.
    """
    try:
        import datasets
    except ImportError:
        raise DataError("reading Hugging Face datasets needs the 'datasets' package: pip install datasets") from None
    p = Path(name_or_path)
    try:
        ds = datasets.load_from_disk(str(p)) if p.exists() else datasets.load_dataset(str(name_or_path))
    except Exception as exc:  # datasets raises many types (network, file, format)
        raise DataError(f"cannot load Hugging Face dataset {name_or_path}: {exc}") from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise DataError(f"{name_or_path} has no split {split!r}; it has {', '.join(ds)}")
        ds = ds[split]
    for col in (tokens_column, tags_column):
        if col not in ds.column_names:
            raise DataError(f"{name_or_path} has no column {col!r}; it has {', '.join(ds.column_names)}")
    feature = ds.features[tags_column]
    names = getattr(getattr(feature, "feature", None), "names", None)
    sentences = []
    for i, row in enumerate(ds):
        tags = [names[t] if names and isinstance(t, int) else str(t) for t in row[tags_column]]
        try:
            entities = tags_to_entities(tags)
        except ValueError as exc:
            raise DataError(f"{name_or_path}[{split}] row {i}: {exc}") from None
        sentences.append(Sentence(list(row[tokens_column]), entities, id=f"{split}:{i}"))
    return sentences
