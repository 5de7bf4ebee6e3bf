"""One progress bar for the batch commands (on stderr, so stdout stays clean for --json)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
)

__all__ = ["progress_bar", "show_bar", "tracked"]

T = TypeVar("T")


def show_bar(console: Console, total: int, *, json_out: bool = False) -> bool:
    """Whether a bar helps: several items, an interactive stderr, and stdout not a terminal
    that JSON lines are being printed to (they would tear through the bar)."""
    return total > 1 and console.is_terminal and not (json_out and sys.stdout.isatty())


@contextmanager
def progress_bar(description: str, *, console: Console,
                 disable: bool = False) -> Iterator[Callable[[int, int | None], None]]:
    """A bar labelled ``description``; yields ``update(done, total)`` (total may be None)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                  disable=disable, redirect_stdout=False, redirect_stderr=False) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def tracked(items: Iterable[T], *, total: int, description: str, console: Console,
            json_out: bool = False) -> Iterator[T]:
    """``items`` as they come, advancing a bar (when :func:`show_bar` says it helps)."""
    with progress_bar(description, console=console,
                      disable=not show_bar(console, total, json_out=json_out)) as update:
        for done, item in enumerate(items, 1):
            yield item
            update(done, total)
