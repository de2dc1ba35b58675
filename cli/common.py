"""Shared CLI plumbing: one clear line and exit code 2 for errors a user can fix.

The boundary, :func:`user_errors`, turns every *foreseeable* failure into ``error: …`` and exit 2: a
:class:`LinkNERError` (raised by the library for bad input), an operating-system error on a named file
(a folder where a file was expected, no permission, a full disk) and a text-decoding error. Anything
else (``TypeError``, ``KeyError``, …) is a bug and keeps its traceback, so it gets reported and fixed
instead of being dressed up as the user's fault.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import sys
from collections.abc import Callable, Iterator
from typing import TypeVar

import typer

from linkner.errors import LinkNERError

F = TypeVar("F", bound=Callable)
EXIT_USER_ERROR = 2
RESUMABLE = "interrupted; finished work is kept (re-run to resume)"
# OS errors that describe the machine, not a bug, even when they name no file.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EMFILE}


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` to stderr and return the Exit to raise."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(EXIT_USER_ERROR)


def os_error_message(exc: OSError) -> str | None:
    """One line for an OS error the user can act on, or ``None`` if it does not look like one."""
    what = exc.strerror or type(exc).__name__
    if exc.filename is not None:
        target = f" → {exc.filename2}" if exc.filename2 is not None else ""
        return f"{exc.filename}{target}: {what}"
    if exc.errno in _ENVIRONMENT_ERRNOS:
        return what
    return None


def user_errors(fn: F | None = None, *, interrupted: str = RESUMABLE) -> F:
    """Turn foreseeable errors (see the module docstring) and a Ctrl-C into one line instead of a traceback.

    Use as ``@user_errors``, or ``@user_errors(interrupted="…")`` where a command's Ctrl-C message must
    say something else (``infer`` keeps nothing of an interrupted file, so it must not promise a resume).
    """
    if fn is None:
        return functools.partial(user_errors, interrupted=interrupted)  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LinkNERError as exc:
            raise fail(str(exc)) from None
        except UnicodeDecodeError as exc:
            raise fail(f"input is not valid UTF-8 text (byte {exc.start}: {exc.reason}); convert it to UTF-8") from None
        except OSError as exc:
            message = os_error_message(exc)
            if message is None:
                raise
            raise fail(message) from None
        except KeyboardInterrupt:
            typer.secho(interrupted, err=True)
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


def option(default, help: str, *names: str, **kw):
    """A typer option whose default is ``None`` (= not given, so the config file or the config's own
    default applies; :func:`linkner.configio.layered`), with that config default shown in its help. The
    defaults live in the dataclass configs only, never again in the CLI."""
    shown = "" if default is None else f" [default: {default}]"
    return typer.Option(None, *names, help=help + shown, show_default=False, **kw)
