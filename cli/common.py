"""Shared CLI plumbing: one clear line and exit code 2 for errors a user can fix."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from typing import TypeVar

import typer

from linkner.errors import LinkNERError

F = TypeVar("F", bound=Callable)
EXIT_USER_ERROR = 2


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` to stderr and return the Exit to raise."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(EXIT_USER_ERROR)


def user_errors(fn: F) -> F:
    """Turn :class:`LinkNERError` (and a Ctrl-C) into a one-line message instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LinkNERError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            typer.secho("interrupted; finished work is kept (re-run to resume)", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def sentence_progress(total: int, description: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr over ``total`` sentences; yields ``advance(n)`` (a no-op when disabled)."""
    if not enabled or total <= 0:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
