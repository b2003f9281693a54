"""Unicode folding for PII detection, with a map from folded offsets back to the original text.

Detectors match on a folded copy of the text: NFKC (full-width letters and digits, NBSP and other
spaces, `＠`, `．`), every Unicode decimal digit to its ASCII digit (Arabic-Indic, Devanagari, ...),
hyphen-like dashes to `-`, and format characters (category Cf: zero-width space / joiners, soft
hyphen, BOM, bidi controls) removed. Redaction then happens on the ORIGINAL text through the offset
map, so everything that is not PII comes through byte for byte (a math answer's `x²`, a Japanese
prompt's full-width punctuation), and a span always covers whole original characters, including
any zero-width characters inside the value.

Cost: ASCII text and text that is already folded return at C speed (`str.isascii`,
`unicodedata.is_normalized` and one regex scan); otherwise one pass over the non-ASCII characters only.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

__all__ = ["Folded", "fold"]

_DASHES = "\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d"  # hyphen, nb-hyphen, figure/en dash, minus, small/full-width
# characters that NFKC keeps but folding changes: format chars (Cf), non-ASCII decimal digits, dashes
_CF = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_NEEDS_FOLD = re.compile(f"[{_CF}{_DASHES}]|(?![0-9])\\d")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_CACHE: dict[str, str] = {}


def _fold_cluster(cluster: str) -> str:
    out = _CACHE.get(cluster)
    if out is not None:
        return out
    chars = []
    for ch in unicodedata.normalize("NFKC", cluster):
        if ch in _DASHES:
            chars.append("-")
        elif unicodedata.category(ch) == "Cf":
            continue
        elif not ch.isascii() and unicodedata.decimal(ch, None) is not None:
            chars.append(str(unicodedata.decimal(ch)))
        else:
            chars.append(ch)
    out = "".join(chars)
    if len(cluster) == 1 and len(_CACHE) < 65536:
        _CACHE[cluster] = out
    return out


@dataclass(frozen=True)
class Folded:
    """The folded text and, unless it is the original itself, the offset map back to the original.

    The map is a list of segments sorted by folded start: `(folded_start, orig_start, orig_len, folded_len)`.
    A segment with equal lengths and `identity` maps character by character (ASCII runs); any other maps
    all its folded characters to the whole original cluster.
    """

    text: str
    _fstart: tuple[int, ...] = ()
    _seg: tuple[tuple[int, int, int, int, bool], ...] = ()

    @property
    def identity(self) -> bool:
        return not self._seg

    def _locate(self, i: int) -> tuple[int, int, int, int, bool]:
        return self._seg[bisect_right(self._fstart, i) - 1]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span holding the folded span [start, end) (end > start)."""
        if not self._seg:
            return start, end
        fs, os_, ol, fl, ident = self._locate(start)
        o_start = os_ + (start - fs) if ident else os_
        fs, os_, ol, fl, ident = self._locate(end - 1)
        o_end = os_ + (end - fs) if ident else os_ + ol
        return o_start, o_end


def fold(text: str) -> Folded:
    """Fold text for matching (see the module docstring); a no-op, without a map, on already folded text."""
    if text.isascii() or (unicodedata.is_normalized("NFKC", text) and _NEEDS_FOLD.search(text) is None):
        return Folded(text)
    parts: list[str] = []
    seg: list[list] = []  # [folded_start, orig_start, orig_len, folded_len, identity]
    f = 0  # folded length so far

    def add(orig: int, olen: int, out: str, ident: bool) -> None:
        nonlocal f
        last = seg[-1] if seg else None
        if ident and last is not None and last[4] and last[1] + last[2] == orig and last[0] + last[3] == f:
            last[2] += olen
            last[3] += olen
        else:
            seg.append([f, orig, olen, len(out), ident])
        parts.append(out)
        f += len(out)

    pos = 0  # original position copied so far
    n = len(text)
    for m in _NON_ASCII.finditer(text):
        a, b = m.span()
        if unicodedata.combining(text[a]) and a > pos:  # an ASCII base letter with combining marks: one cluster
            a -= 1
        if a > pos:
            add(pos, a - pos, text[pos:a], True)
        i = a
        while i < b:
            j = i + 1
            while j < b and unicodedata.combining(text[j]):
                j += 1
            cluster = text[i:j]
            out = _fold_cluster(cluster)
            if out:
                add(i, j - i, out, out == cluster)
            i = j
        pos = b
    if pos < n:
        add(pos, n - pos, text[pos:], True)
    if not seg:  # nothing but format characters
        return Folded("", (0,), ((0, 0, n, 0, False),))
    return Folded("".join(parts), tuple(s[0] for s in seg), tuple(tuple(s) for s in seg))  # type: ignore[misc]
