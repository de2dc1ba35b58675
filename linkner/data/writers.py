"""Writers for CoNLL (IOB2 or BIOES), JSONL (tokenized form, round-trips through the reader) and
the original spanner JSON. Entity ``score``/``extra`` fields are written to JSONL so that
predictions keep their probabilities and uncertainties.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from linkner.data.spans import entities_to_tags
from linkner.data.types import Entity, Sentence
from linkner.errors import DataError
from linkner.outputs import atomic_output, write_text_atomic


def entity_record(e: Entity) -> dict:
    rec: dict = {"start": e.start, "end": e.end, "label": e.label}
    if e.score is not None:
        rec["prob"] = e.score
    rec.update(e.extra)
    return rec


def sentence_record(s: Sentence) -> dict:
    rec: dict = {"id": s.id, "tokens": s.tokens, "entities": [entity_record(e) for e in s.entities]}
    if s.text is not None:
        rec["text"] = s.text
    if s.token_offsets is not None:
        rec["token_offsets"] = [list(o) for o in s.token_offsets]
        offset = s.meta.get("char_offset")  # where this sentence starts in its original document
        for r, e in zip(rec["entities"], s.entities):
            r["char_start"], r["char_end"] = s.char_span(e)
            r["text"] = s.surface(e)
            if isinstance(offset, int):
                r["doc_char_start"], r["doc_char_end"] = r["char_start"] + offset, r["char_end"] + offset
    # Extra per-sentence data (candidates, gold, scores...) sits at the top level of the record.
    rec.update({k: v for k, v in s.meta.items() if k not in rec})
    return rec


def write_jsonl(sentences: Iterable[Sentence], path: str | Path) -> None:
    """Write one record per sentence as it arrives (a generator is never held whole), under a temporary
    name renamed to ``path`` when complete: an interrupted write never leaves a truncated file."""
    with atomic_output(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for s in sentences:
            fh.write(json.dumps(sentence_record(s), ensure_ascii=False) + "\n")


def write_conll(sentences: list[Sentence], path: str | Path, scheme: str = "IOB2") -> None:
    """Two columns ``token TAG``, TAB-separated, a blank line between sentences."""
    lines: list[str] = []
    for s in sentences:
        try:
            tags = entities_to_tags(len(s), s.entities, scheme)
        except ValueError as exc:
            raise DataError(f"sentence {s.id}: {exc}; CoNLL cannot hold overlapping entities, write JSONL") from None
        lines.extend(f"{t}\t{g}" for t, g in zip(s.tokens, tags))
        lines.append("")
    write_text_atomic(path, "\n".join(lines))


def write_spanner(sentences: list[Sentence], path: str | Path) -> None:
    """The original code's JSON: inclusive ``"start;end"`` keys, words joined by single spaces."""
    records = [
        {"context": " ".join(s.tokens), "span_posLabel": {f"{e.start};{e.end - 1}": e.label for e in s.entities}}
        for s in sentences
    ]
    write_text_atomic(path, json.dumps(records, sort_keys=True, ensure_ascii=False, indent=2))


WRITERS = {"conll": write_conll, "jsonl": write_jsonl, "spanner": write_spanner}


def write(sentences: list[Sentence], path: str | Path, fmt: str) -> None:
    if fmt not in WRITERS:
        raise DataError(f"cannot write format {fmt!r}; choose one of {', '.join(WRITERS)}")
    WRITERS[fmt](sentences, path)
