"""What the rater pages show of campaign texts: the rubric as sanitized Markdown, a dialogue as its turns.

The rubric is written by the team but shown to every rater: Markdown is rendered with raw HTML turned
off (markdown-it-py escapes it, so a `<script>` in a rubric is shown as text) and links limited to safe
schemes (markdown-it's `validateLink` refuses javascript:, vbscript:, file: and data: links).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup

from tether.io.hh_rlhf import transcript_turns

ROLE_NAMES = {"Human": "User", "Assistant": "Assistant", "": "Context"}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def render_markdown(text: str) -> Markup:
    """Markdown as HTML that is safe to insert: raw HTML in `text` comes out escaped, as visible text."""
    return Markup(_markdown().render(text))  # noqa: S704 - markdown-it with html=False escapes every raw tag


@dataclass(frozen=True)
class Turn:
    """One turn of a dialogue as a rater sees it."""

    role: str  # "User", "Assistant" or "Context"
    text: str


def dialogue(prompt: str) -> list[Turn] | None:
    """An HH-RLHF style prompt ("\\n\\nHuman: ... \\n\\nAssistant: ...") as turns; None for a plain prompt."""
    turns = transcript_turns(prompt)
    if not any(role for role, _ in turns):
        return None
    return [Turn(ROLE_NAMES[role], text) for role, text in turns]
