"""Errors a person can act on.

Every failure caused by input (a missing file, a malformed line, an unknown dataset, an unreachable
LLM server) is raised as a :class:`LinkNERError` subclass whose message says what is wrong and what
to do. The CLI turns these into one line on stderr and exit code 2; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class LinkNERError(Exception):
    """Base class for errors caused by the user's input or environment (CLI exit code 2)."""


class DataError(LinkNERError):
    """A dataset or prediction file cannot be read or does not fit what was declared."""


class ConfigError(LinkNERError):
    """A configuration value, flag combination or file is invalid."""


class ModelError(LinkNERError):
    """An encoder or checkpoint cannot be found, loaded, or does not match the data."""


class LLMError(LinkNERError):
    """An LLM backend is unreachable, misconfigured, or keeps returning errors."""


def where(path: object, line: int | None = None) -> str:
    """Format a file position for error messages: ``path:line`` (1-based line)."""
    return f"{path}:{line}" if line is not None else str(path)
