"""mkdocs hook: the CLI reference page is rendered from the Typer app at build time, so it cannot go stale.

`docs/cli.md` holds the marker `<!-- cli-reference -->`; every command and sub-command of `tether` (hidden ones
left out) replaces it with its usage, help text and a table of its arguments and options, as `--help` shows them.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

MARKER = "<!-- cli-reference -->"


def _cell(text: str) -> str:
    """Help text as one Markdown table cell: rich's escaped brackets unescaped, HTML and pipes escaped."""
    text = " ".join(text.replace("\\[", "[").split())
    return html.escape(text, quote=False).replace("|", "\\|")


def _commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    """(path, command) for the command and every visible sub-command, depth first, in the order `--help` lists them."""
    yield path, command
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name in subcommands:  # as registered, the order `--help` lists them in
            sub = subcommands[name]
            if not getattr(sub, "hidden", False):
                yield from _commands(sub, [*path, name])


def render() -> str:
    """Markdown for every `tether` command."""
    import typer

    from tether.cli import app

    root = typer.main.get_command(app)
    parts: list[str] = []
    for path, command in _commands(root, ["tether"]):
        name = " ".join(path)
        ctx = command.context_class(command, info_name=name)
        level = "#" * min(len(path) + 1, 4)
        parts.append(f"{level} `{name}`\n")
        if command.help:
            parts.append(html.escape(command.help.strip(), quote=False).replace("\\[", "[") + "\n")
        parts.append(f"```text\n{command.get_usage(ctx).strip()}\n```\n")
        rows = []
        for param in command.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None or record[0] == "--help":
                continue
            rows.append(f"| `{record[0]}` | {_cell(record[1])} |")  # the tables extension keeps | in code spans
        if rows:
            parts.append("| argument / option | meaning |\n|---|---|\n" + "\n".join(rows) + "\n")
        subcommands = getattr(command, "commands", None)
        if subcommands:
            listed = [f"- [`{name} {sub}`](#{'-'.join([*path, sub])}): {_cell(c.get_short_help_str(limit=120))}"
                      for sub, c in subcommands.items() if not getattr(c, "hidden", False)]
            parts.append("Commands:\n\n" + "\n".join(listed) + "\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())
