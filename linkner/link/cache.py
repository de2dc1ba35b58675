"""An append-only, crash-safe store of LLM answers keyed by a hash of (backend, model, prompt, options).

Why a JSONL file: every answer is one line written, flushed and fsync'ed the moment it arrives, so a
run that is killed (Ctrl-C, OOM, power loss) loses at most the answers still in flight; a rerun reads
the file back and asks only for what is missing. Appends take an exclusive ``flock``, so two runs may
share one cache file. The raw reply is stored (not the parsed label), so parser improvements apply to
cached answers without asking the LLM again.

Why a header: ``--cache`` is a path a person types, and appending answers to the wrong file (a
predictions file, a dataset) ruins it. A new cache therefore starts with a header record
(``{"linkner_cache": 1, ...}``), and an existing file is only ever appended to if it is recognisably a
cache; anything else is refused untouched. Caches written before the header existed (such as the
committed ``results/llm-answers.jsonl``) are accepted when their records have the answer-record shape
and none has another shape; they are read and appended to as they are, without a header, because adding
one would mean rewriting a file that other runs may be appending to, and would change a committed file
on a cached rerun.

Reading never modifies an existing file. Lines that cannot be read (a line cut short by a crash, foreign
junk) are skipped and reported once per load as a warning naming the file and the count; before each
append the file's last byte is checked, so a new record is never glued onto a half-written line.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from pathlib import Path

from linkner.errors import DataError

FORMAT = 1
HEADER_KEY = "linkner_cache"
log = logging.getLogger(__name__)


def is_header(rec: object) -> bool:
    return isinstance(rec, dict) and HEADER_KEY in rec


def is_record(rec: object) -> bool:
    """The shape :meth:`AnswerCache.put` writes: a string ``key`` and the raw reply (text, or null)."""
    return isinstance(rec, dict) and isinstance(rec.get("key"), str) and isinstance(rec.get("raw", 0), str | None)


def _parse(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        return None


class AnswerCache:
    """``get(key)`` / ``put(key, record)`` over an append-only JSONL file (``path=None``: memory only).

    ``skipped_lines`` counts the lines of the file that could not be read; ``legacy`` tells whether the
    file is a cache from before the header (read and appended to as it is).
    """

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self._records: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.skipped_lines = 0
        self.legacy = False
        self._fh = None
        if self.path is not None:
            self._open()

    def _open(self) -> None:
        if self.path.is_dir():
            raise DataError(f"answer cache {self.path} is a directory; give a file path")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = self.path.open("a+b")  # creates a missing file; never truncates an existing one
        except OSError as exc:
            raise DataError(f"cannot open the answer cache {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX)  # a concurrent writer finishes its line (or header) first
            try:
                fh.seek(0)
                data = fh.read()
                if not data.strip():
                    header = {HEADER_KEY: FORMAT, "created": round(time.time(), 3),
                              "about": "LinkNER LLM answer cache: one JSON answer record per line"}
                    fh.write(json.dumps(header).encode() + b"\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                else:
                    self._load(data)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        except BaseException:
            fh.close()
            raise
        self._fh = fh

    def _load(self, data: bytes) -> None:
        lines = [(i, raw) for i, raw in enumerate(data.split(b"\n"), 1) if raw.strip()]
        first = _parse(lines[0][1])
        if is_header(first):
            if first[HEADER_KEY] != FORMAT:
                raise DataError(f"answer cache {self.path} has format {first[HEADER_KEY]!r}; this LinkNER reads "
                                f"format {FORMAT} (give --cache a new file)")
            lines = lines[1:]
        parsed = [(i, _parse(raw)) for i, raw in lines]
        junk = [i for i, rec in parsed if not is_record(rec)]
        if not is_header(first):
            foreign = next((i for i, rec in parsed if rec is not None and not is_record(rec)), None)
            if foreign is not None or len(junk) == len(parsed):
                why = (f"line {foreign} is not an answer record" if foreign is not None
                       else "none of its lines is an answer record")
                raise DataError(f"{self.path} is not a LinkNER answer cache (no cache header, and {why}); it was left "
                                "untouched. Give --cache a new file or an existing answer cache")
            self.legacy = True
        for _, rec in parsed:
            if is_record(rec):
                self._records[rec["key"]] = rec
        self.skipped_lines = len(junk)
        if junk:
            shown = ", ".join(map(str, junk[:5])) + (", …" if len(junk) > 5 else "")
            log.warning("answer cache %s: skipped %d unreadable line(s) (line %s: cut short by a crash, or not an "
                        "answer record); their answers will be asked again", self.path, len(junk), shown)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def get(self, key: str) -> dict | None:
        return self._records.get(key)

    def put(self, key: str, record: dict) -> dict:
        """Store ``record`` under ``key`` and make it durable before returning."""
        rec = {"key": key, **record, "stored_at": round(time.time(), 3)}
        line = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self._records[key] = rec
            if self._fh is not None:
                fcntl.flock(self._fh, fcntl.LOCK_EX)
                try:
                    fd = self._fh.fileno()
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        line = b"\n" + line  # a writer died mid-line: end its line, don't extend it
                    self._fh.write(line)
                    self._fh.flush()
                    os.fsync(fd)
                finally:
                    fcntl.flock(self._fh, fcntl.LOCK_UN)
        return rec

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> AnswerCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
