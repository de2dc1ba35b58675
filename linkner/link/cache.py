"""An append-only, crash-safe store of LLM answers keyed by a hash of (backend, model, prompt, options).

Why a JSONL file: every answer is one line written, flushed and fsync'ed the moment it arrives, so a
run that is killed (Ctrl-C, OOM, power loss) loses at most the answers still in flight; a rerun reads
the file back and asks only for what is missing. A line cut short by a crash is skipped on reading and
the file is re-terminated before the next append. Appends take an exclusive ``flock``, so two runs may
share one cache file. The raw reply is stored (not the parsed label), so parser improvements apply to
cached answers without asking the LLM again.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path

from linkner.errors import DataError


class AnswerCache:
    """``get(key)`` / ``put(key, record)`` over an append-only JSONL file (``path=None``: memory only)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self._records: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.skipped_lines = 0
        self._fh = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._load()
            self._fh = self.path.open("a", encoding="utf-8")

    def _load(self) -> None:
        if not self.path.exists():
            return
        if self.path.is_dir():
            raise DataError(f"answer cache {self.path} is a directory; give a file path")
        with self.path.open("rb") as fh:
            data = fh.read()
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                self._records[rec["key"]] = rec
            except (ValueError, KeyError, TypeError):
                self.skipped_lines += 1  # a line cut short by a crash, or foreign junk
        if data and not data.endswith(b"\n"):
            with self.path.open("ab") as fh:  # terminate a partial last line so the next append is clean
                fh.write(b"\n")

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def get(self, key: str) -> dict | None:
        return self._records.get(key)

    def put(self, key: str, record: dict) -> dict:
        """Store ``record`` under ``key`` and make it durable before returning."""
        rec = {"key": key, **record, "stored_at": round(time.time(), 3)}
        line = json.dumps(rec, ensure_ascii=False) + "\n"
        with self._lock:
            self._records[key] = rec
            if self._fh is not None:
                fcntl.flock(self._fh, fcntl.LOCK_EX)
                try:
                    self._fh.write(line)
                    self._fh.flush()
                    os.fsync(self._fh.fileno())
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
