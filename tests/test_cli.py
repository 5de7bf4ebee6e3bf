"""CLI conveniences: the batch commands' progress bar (on an interactive stderr only, never
mixed into JSON) and --version."""

from __future__ import annotations

import io

from rich.console import Console

from fashionlens.commands.progress import show_bar, tracked


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100), out


def test_bar_only_for_several_items_on_a_terminal(monkeypatch):
    tty, _ = _console(True)
    pipe, _ = _console(False)
    assert show_bar(tty, 5)
    assert not show_bar(tty, 1)
    assert not show_bar(pipe, 5)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert not show_bar(tty, 5, json_out=True)  # JSON lines to a terminal would tear the bar
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert show_bar(tty, 5, json_out=True)  # JSON piped to a file: the bar stays on stderr


def test_tracked_yields_everything_in_order_and_counts_on_the_console():
    console, out = _console(True)
    seen = list(tracked(iter(["a", "b", "c"]), total=3, description="naming", console=console))
    assert seen == ["a", "b", "c"]
    text = out.getvalue()
    assert "naming" in text and "3/3" in text


def test_tracked_is_silent_when_stderr_is_not_a_terminal(capsys):
    console, out = _console(False)
    assert list(tracked(range(4), total=4, description="x", console=console)) == [0, 1, 2, 3]
    assert out.getvalue() == ""
    assert capsys.readouterr().out == ""  # nothing leaks into stdout either


def test_version_flag_prints_the_package_version():
    from typer.testing import CliRunner

    from fashionlens import __version__
    from fashionlens.cli import app

    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"fashionlens {__version__}"
