"""Where results go: checks that an output path can be written *before* any work, and whole-or-nothing
file writes.

Two promises to the user rest on this module. First, a bad ``--out`` (a file where a folder is
wanted, a folder where a file is wanted, a read-only place) is reported before a model is loaded or an
LLM is asked, not after an hour of work. Second, an output file is either complete or untouched: it is
written under a temporary name in the same folder and renamed over the final name only when complete
(a rename inside one folder is atomic), so an interrupted run never leaves a truncated file that looks
finished. The checks create nothing, so a run rejected later leaves no stray folder behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from linkner.errors import ConfigError


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_creatable_under(path: Path, flag: str) -> None:
    """``path`` does not exist yet: the nearest existing ancestor must be a writable folder."""
    base = _nearest_existing(path)
    if not base.is_dir():
        raise ConfigError(f"{flag} {path}: {base} is a file, so {path} cannot be created there")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: cannot create it, {base} is not writable")


def check_output_dir(path: str | Path, flag: str = "--out") -> Path:
    """Raise :class:`ConfigError` unless ``path`` is a writable folder or can be created as one."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise ConfigError(f"{flag} {p} is a file; give a folder (it will hold several output files)")
        if not os.access(p, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} {p}: the folder is not writable")
        return p
    _check_creatable_under(p, flag)
    return p


def check_output_file(path: str | Path, flag: str = "--out") -> Path:
    """Raise :class:`ConfigError` unless ``path`` can be written as a file (it may exist: it is replaced)."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{flag} {p} is a folder; give a file name")
    if p.exists():
        if not os.access(p.parent, os.W_OK | os.X_OK):  # the new file is renamed into this folder
            raise ConfigError(f"{flag} {p}: its folder is not writable")
        return p
    _check_creatable_under(p, flag)
    return p


def partial_name(path: Path) -> Path:
    """The temporary name a file is written under: hidden, beside it, marked as partial."""
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on any failure (an
    exception or Ctrl-C) it is removed and ``path`` keeps its old content, or stays absent.

    Streaming writers keep streaming: they write the temporary file chunk by chunk; only the final
    rename waits for the end. A run killed outright (SIGKILL) leaves a ``.NAME.PID.partial`` file,
    whose name says what it is, never a truncated file under the final name.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """``path.write_text(text)`` that leaves either the whole new text or the old file (see :func:`atomic_output`)."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
