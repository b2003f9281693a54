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
from array import array
from bisect import bisect_right

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


class Folded:
    """The folded text and, unless it is the original itself, the offset map back to the original.

    The map is a run of segments sorted by folded start, kept in flat integer arrays (millions of small
    lists would wake the garbage collector over and over on a long text): folded start, original start,
    original length, folded length, and whether the segment maps character by character (ASCII runs and
    characters that fold to themselves) or maps all its folded characters to the whole original cluster.
    """

    __slots__ = ("text", "_fstart", "_ostart", "_olen", "_flen", "_ident")

    def __init__(self, text: str, fstart: array | None = None, ostart: array | None = None,
                 olen: array | None = None, flen: array | None = None, ident: bytearray | None = None) -> None:
        self.text = text
        self._fstart, self._ostart, self._olen, self._flen, self._ident = fstart, ostart, olen, flen, ident

    @property
    def identity(self) -> bool:
        return self._fstart is None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span holding the folded span [start, end) (end > start)."""
        if self._fstart is None:
            return start, end
        k = bisect_right(self._fstart, start) - 1
        o_start = self._ostart[k] + (start - self._fstart[k]) if self._ident[k] else self._ostart[k]
        k = bisect_right(self._fstart, end - 1) - 1
        o_end = self._ostart[k] + (end - self._fstart[k]) if self._ident[k] else self._ostart[k] + self._olen[k]
        return o_start, o_end


def fold(text: str) -> Folded:
    """Fold text for matching (see the module docstring); a no-op, without a map, on already folded text."""
    if text.isascii() or (unicodedata.is_normalized("NFKC", text) and _NEEDS_FOLD.search(text) is None):
        return Folded(text)
    parts: list[str] = []
    fstart, ostart, olen, flen, ident = array("q"), array("q"), array("q"), array("q"), bytearray()
    f = 0  # folded length so far

    def add(orig: int, n_orig: int, out: str, same: bool) -> None:
        nonlocal f
        if same and ident and ident[-1] and ostart[-1] + olen[-1] == orig and fstart[-1] + flen[-1] == f:
            olen[-1] += n_orig  # extends the previous character-by-character segment
            flen[-1] += n_orig
        else:
            fstart.append(f)
            ostart.append(orig)
            olen.append(n_orig)
            flen.append(len(out))
            ident.append(same)
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
    if not ident:  # nothing but format characters
        return Folded("", array("q", [0]), array("q", [0]), array("q", [n]), array("q", [0]), bytearray([0]))
    return Folded("".join(parts), fstart, ostart, olen, flen, ident)
