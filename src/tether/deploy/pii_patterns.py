"""The PII detectors: bounded regular expressions, checksums and context rules (used by `tether.deploy.pii`).

Linear time, by construction: every repetition in every detector pattern has a small upper bound
(`{0,63}`, never `*` or `+`), so one match attempt reads at most a few hundred characters and a scan
costs O(len(text)) whatever the input (`tests/deploy/test_pii_linear.py` checks each pattern's maximum
width and the scaling on backtracking bait). A value that may be longer than its bound (a token, a
PEM body) is extended past the match by a single forward scan that never revisits characters.

Patterns run on folded text (`pii_text.fold`): digits are ASCII, spaces are spaces, zero-width
characters are gone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tether.deploy.pii_checksums import IBAN_LENGTHS, digits, entropy, iban_ok, luhn_ok, ssn_ok

__all__ = ["DETECTORS", "GATE_WORDS", "Detector", "Probe", "Start", "card_ok", "context_key", "email_norm", "gate",
           "next_match",
           "regex_scan"]


# -- detector plumbing --------------------------------------------------------------------------------------

Span = tuple[int, int]


class Probe:
    """What the cheap pre-checks look at, computed once per text: the text, its lower case, its digit count."""

    __slots__ = ("text", "low", "digits")

    def __init__(self, text: str) -> None:
        self.text = text
        self.low = text.lower()
        self.digits = sum(map(text.count, "0123456789"))


@dataclass(frozen=True)
class Detector:
    """One PII detector. `scan(probe)` yields validated spans of the folded text in increasing order."""

    type: str
    scan: Callable[[Probe], Iterator[Span]]
    normalize: Callable[[str], str]  # folded value -> the string the pseudonym is keyed on
    needs: Callable[[Probe], bool]  # cheap pre-check: can this text hold a match at all?
    patterns: tuple[re.Pattern[str], ...] = ()  # for the linear-time check


@dataclass(frozen=True)
class Start:
    """Where a match can begin: a pattern whose first element is a character set or literal alternatives,
    so the regex engine skips between candidates in C; `lower`: run it on the lower-cased text (keywords);
    `back`: the match begins that many characters before the candidate."""

    pattern: re.Pattern[str]
    lower: bool = False
    back: int = 0


def next_match(p: Probe, pattern: re.Pattern[str], start: Start | None, pos: int) -> re.Match[str] | None:
    """The first match of `pattern` at or after pos; with `start`, tried only where `start` matches."""
    if start is not None:
        hay = p.low if start.lower else p.text
        if len(hay) == len(p.text):  # (lower-casing can change the length of rare non-ASCII text)
            spos = pos + start.back
            while True:
                c = start.pattern.search(hay, spos)
                if c is None:
                    return None
                m = pattern.match(p.text, c.start() - start.back)
                if m is not None:
                    return m
                spos = c.start() + 1
    return pattern.search(p.text, pos)


def regex_scan(pattern: re.Pattern[str], group: int = 0, valid: Callable[[str], bool] | None = None,
               refine: Callable[[str, re.Match[str], int, int], Span | None] | None = None,
               tail: re.Pattern[str] | None = None, start: Start | None = None) -> Callable[[Probe], Iterator[Span]]:
    """Scan with a bounded pattern; `refine` may cut a match (then the search resumes at the cut), `tail`
    extends an accepted value past the pattern's bound (a forward scan; the search resumes after it)."""

    def scan(p: Probe) -> Iterator[Span]:
        text = p.text
        pos, n = 0, len(text)
        while pos <= n:
            m = next_match(p, pattern, start, pos)
            if m is None:
                return
            nxt = m.end() if m.end() > m.start() else m.start() + 1
            s, e = m.span(group)
            if s >= 0:
                span = refine(text, m, s, e) if refine is not None else (s, e)
                if span is not None and (valid is None or valid(text[span[0]:span[1]])):
                    s, e = span
                    if tail is not None and e == m.end(group):
                        e = tail.match(text, e).end()
                    nxt = max(e, s + 1) if refine is not None else max(nxt, e)
                    yield s, e
            pos = nxt

    return scan


# -- e-mail ---------------------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[^\W_][\w.%+-]{0,63}(?:@|%40)(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}"
    r"(?:[^\W\d_]{2,24}|xn--[a-z0-9-]{1,59})(?![\w-])"
)
_AT = r"(?:[ \t]{0,2}[\[({<][ \t]{0,2}at[ \t]{0,2}[\])}>][ \t]{0,2}|[ \t]{1,2}at[ \t]{1,2})"
_DOT = r"(?:[ \t]{0,2}[\[({<][ \t]{0,2}dot[ \t]{0,2}[\])}>][ \t]{0,2}|[ \t]{1,2}dot[ \t]{1,2}|\.)"
_WORD = r"[^\W_][\w+-]{0,40}"
# "john dot doe at gmail dot com", "john.doe [at] gmail [dot] com", "john(at)example.org": found from the "at"
# (the search skips to blanks and brackets), the name then read backwards from there
_AT_DOMAIN = re.compile(
    r"(?i)[ \t\[({<]"
    r"(?:(?<=[\[({<])[ \t]{0,2}at[ \t]{0,2}[\])}>][ \t]{0,2}"
    r"|(?<=[ \t])[ \t]?(?:[\[({<][ \t]{0,2}at[ \t]{0,2}[\])}>][ \t]{0,2}|at[ \t]{1,2}))"
    rf"({_WORD}(?:{_DOT}{_WORD}){{0,4}}{_DOT}[^\W\d_]{{2,24}})(?![\w-])"
)
_LOCAL_BEFORE = re.compile(rf"(?i)(?<![\w.+-])({_WORD}(?:{_DOT}{_WORD}){{0,4}})\Z")
_TLDS = (
    "com org net edu gov mil int io co ai app dev me us uk de fr es it nl be ch at se no dk fi pl cz ru cn jp kr in "
    "br au ca mx ar eu info biz"
)
_COMMON_TLDS = frozenset(_TLDS.split())
_BRACKETED = re.compile(r"[\[({<]")
_SPELLED_DOT = re.compile(r"(?i)[\[({<][ \t]{0,2}dot|[ \t]dot[ \t]")
_TLD_SPLIT = re.compile(r"(?i)[ \t\])}>]|\.|dot")


def _spelled_email_ok(local: str, at: str, domain: str) -> bool:
    if _BRACKETED.search(at):
        return True
    # a plain " at ": only with a common top-level domain, and a spelled-out dot or a dotted/underscored name
    # ("look at example.com" is not an address; "john.doe at gmail.com" and "anna at gmail dot com" are)
    tld = _TLD_SPLIT.split(domain)[-1].lower()
    return tld in _COMMON_TLDS and (_SPELLED_DOT.search(domain) is not None or any(c in local for c in "._"))


def _scan_spelled(p: Probe) -> Iterator[Span]:
    text = p.text
    pos, n = 0, len(text)
    while pos < n:
        m = _AT_DOMAIN.search(text, pos)
        if m is None:
            return
        local = _LOCAL_BEFORE.search(text, max(0, m.start() - 260), m.start())
        if local is not None and _spelled_email_ok(local.group(1), text[m.start():m.start(1)], m.group(1)):
            yield local.start(1), m.end()
            pos = m.end()
        else:
            pos = m.start() + 1


_SP_AT = re.compile(r"(?i)[ \t]{0,2}[\[({<][ \t]{0,2}at[ \t]{0,2}[\])}>][ \t]{0,2}|[ \t]{1,2}at[ \t]{1,2}|%40")
_SP_DOT = re.compile(r"(?i)[ \t]{0,2}[\[({<][ \t]{0,2}dot[ \t]{0,2}[\])}>][ \t]{0,2}|[ \t]{1,2}dot[ \t]{1,2}")


def email_norm(v: str) -> str:
    """One spelling per address: lower case, `%40` / `[at]` / ` at ` -> `@`, `[dot]` / ` dot ` -> `.`."""
    v = _SP_DOT.sub(".", _SP_AT.sub("@", v.lower(), count=1))
    return "".join(v.split())


# -- phones ---------------------------------------------------------------------------------------------------

_PHONE = re.compile(
    r"(?<![\w+/=.-])(?:"
    r"\+[0-9]{1,3}[ .-]?(?:\(0?[0-9]{1,4}\)[ .-]?)?[0-9]{1,4}(?:[ .-]?[0-9]{2,4}){1,4}"  # +CC ..., +14155550132
    # (415) 555-0132, 415 555 0132, 1-800-555-0199
    r"|(?<![0-9][ .-])(?:1[ .-]?)?(?:\([2-9][0-9]{2}\)[ .-]?|[2-9][0-9]{2}[ .-])[0-9]{3}[ .-][0-9]{4}"
    # EU national: 030 901820 44, 06 12 34 56 78, 020 7946 0958
    r"|(?<![0-9][ .-])0[1-9][0-9]{0,3}(?:[ .-][0-9]{2,8}){1,4}"
    r")(?![\w]|[.-]?[0-9])"
)
# a number right after a phone word: "phone=4155550132", "call me at 0612345678", "Tel.: +1 415 555 0132"
_PHONE_CTX = re.compile(
    r"(?i)(?<![a-z])(?:phone|telephone|tel|mobile|mob|cell|cellphone|fax|whatsapp|sms|call[ \t]{1,2}me|"
    r"text[ \t]{1,2}me|reach[ \t]{1,2}me|ring[ \t]{1,2}me|dial)(?:[ _-]?(?:no|num|number|nr)\.?)?"
    r"(?:[ \t]{1,2}(?:is|at|on))?[ \t:=#.]{0,4}(\+?\(?[0-9](?:[ .()/-]{0,2}[0-9]){6,14})(?![0-9])"
)
_DATE = re.compile(r"[0-9]{4}[-./][0-9]{2}[-./][0-9]{2}|[0-9]{2}[-./][0-9]{2}[-./][0-9]{4}")
_DATE_DOT = re.compile(r"[0-3][0-9]\.[01][0-9]\.(?:19|20)[0-9]{2}")


def _phone_ok(v: str) -> bool:
    n = len(digits(v))
    if _DATE_DOT.search(v):  # "01.01.2024 10" is a date and an hour
        return False
    return 9 <= n <= 15 if not v.startswith("+") else 8 <= n <= 15


def _phone_ctx_ok(v: str) -> bool:
    return 7 <= len(digits(v)) <= 15 and _DATE.fullmatch(v) is None


# -- cards, IBANs, SSNs -----------------------------------------------------------------------------------

_CARD = re.compile(
    r"(?<![\w-])(?<![0-9]{4}[ .-])(?:[0-9]{13,19}(?![\w])"
    r"|(?:[0-9]{4}(?:[ .-]{1,3}[0-9]{4}){2}[ .-]{1,3}[0-9]{1,7}|[0-9]{4}[ .-]{1,3}[0-9]{6}[ .-]{1,3}[0-9]{4,5})"
    r"(?![\w]|[ .-]{1,3}[0-9]{4}|[.,][0-9]))"
)


def card_ok(v: str) -> bool:
    """A card number: 13-19 digits, Luhn, a card network's first digit, one separator style."""
    d = digits(v)
    if not (13 <= len(d) <= 19 and luhn_ok(d) and d[0] in "2345689" and len(set(d)) > 1):
        return False
    if len(d) == 13 and d[0] != "4":  # only old Visa numbers have 13 digits (not an ISBN-13: 978...)
        return False
    seps = {c for c in v if not c.isdigit()}
    return len(seps) <= 2 and ("." not in seps or seps == {"."})  # one style, or spaces and dashes mixed


_IBAN = re.compile(r"(?i)(?<![a-z0-9])[a-z]{2}[0-9]{2}(?:[ -]{0,2}[a-z0-9]){11,30}")
_ALNUM = re.compile(r"[A-Za-z0-9]")


def _iban_cut(text: str, m: re.Match[str], s: int, e: int) -> Span | None:
    """Cut the match after its country's IBAN length; the cut must fall on a boundary (not inside a word)."""
    length = IBAN_LENGTHS.get(text[s:s + 2].upper())
    if length is None:
        return None
    count = 0
    for i in range(s, e):
        if text[i] not in " -":
            count += 1
            if count == length:
                end = i + 1
                return (s, end) if end == len(text) or _ALNUM.match(text, end) is None else None
    return None


_SSN = re.compile(r"(?<![\w.-])[0-9]{3}([ .-])[0-9]{2}\1[0-9]{4}(?![\w]|[.-][0-9])")
_SSN_CTX = re.compile(
    r"(?i)(?<![a-z])(?:ssn|ss#|social[ -]security(?:[ -](?:number|no|num|nr|#))?|soc\.?[ -]?sec\.?(?:[ -]?(?:no|#))?)"
    r"\.?#?[ \t]{0,3}(?:is|was)?[ \t]{0,3}[:=#]?[ \t]{0,3}([0-9]{3}[ .-]?[0-9]{2}[ .-]?[0-9]{4})(?![0-9])"
)

# -- network ---------------------------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(r"(?<![\w.])(?<!version )(?<!Version )(?:" + _OCTET + r"\.){3}" + _OCTET + r"(?![\w]|\.[0-9])")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9A-Fa-f]{0,4})(?![\w:]|\.[0-9])"
)


def _ipv4_ok(v: str) -> bool:
    return not v.startswith(("0.", "255.")) and v.count(".") == 3


def _ipv6_ok(v: str) -> bool:
    if v.count(":") < 2 or len(v) < 6:
        return False
    try:
        ipaddress.IPv6Address(v)
    except ValueError:
        return False
    return True


def _ipv6_norm(v: str) -> str:
    return ipaddress.IPv6Address(v).compressed


# -- secrets ---------------------------------------------------------------------------------------------

_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_-]*")
_BEARER_TAIL = re.compile(r"[A-Za-z0-9._~+/=-]*")
_SECRET_PREFIXED = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{20,400}"  # OpenAI / Anthropic / Stripe-like
    r"|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,400}"  # Stripe
    r"|gh[pousr]_[A-Za-z0-9]{30,400}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{40,400}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"  # AWS access key id
    r"|xox[abposr]-[A-Za-z0-9-]{10,400}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|glpat-[A-Za-z0-9_-]{20,400}"  # GitLab
    r"|eyJ[A-Za-z0-9_-]{8,2000}\.[A-Za-z0-9_-]{8,2000}\.[A-Za-z0-9_-]{8,2000}"  # JWT
    r")"
)
_BEARER = re.compile(r"(?i)(?<![a-z])(?:bearer|token)[ \t]{1,4}([A-Za-z0-9._~+/=-]{16,1024})")

_PASSWORD_KEY = r"passw(?:or)?d|passphrase|pwd"
_KEY_WORDS = (
    _PASSWORD_KEY + r"|secret|api[_-]?key|apikey|access[_-]?key|token|auth(?!or)|credential|private[_-]?key"
)
# `db_password=...`, `"password": "..."`, `api_key => '...'`, `password: Tr0ub4dor&3`
_KEY_VALUE = re.compile(
    rf"(?i)(?:{_KEY_WORDS})[\w.-]{{0,40}}[\"']?[ \t]{{0,4}}(?:=>|:=|[:=])[ \t]{{0,4}}"
    r"(?:\"((?:[^\"\\\n]|\\.){1,256})\"|'([^'\n]{1,256})'"
    r"|((?:[^\s\"'`,;<>&{}\[\]]|&(?![\w.-]{1,32}=)){1,256}))"
)
# "my password is hunter2" (the value must not read as a word: "the password is incorrect")
_PASSWORD_IS = re.compile(
    rf"(?i)(?<![a-z])(?:{_PASSWORD_KEY})[ \t]{{1,3}}(?:is|was)[ \t]{{1,3}}[\"']?([^\s\"'`<>]{{4,256}})"
)
_STOP_WORDS = (
    "password passwd changeme redacted none null nil true false required optional incorrect invalid wrong empty "
    "hidden secret string undefined xxx xxxx xxxxxxxx"
)
_STOP_VALUES = frozenset(_STOP_WORDS.split())
# a reference or a mask, not a value: ${DB_PASS}, %(pw)s, {{ vault.pw }}, <redacted>, ********, a path
_REFERENCE = re.compile(r"\$\{?\w{1,64}\}?|%\(\w{1,64}\)s|\{\{[\w. ]{1,64}\}\}|<[^<>]{0,64}>|\*{3,64}|x{6,64}")
_WORDISH = re.compile(r"[a-z]{1,30}(?:[-_. ][a-z]{1,30}){0,8}")


def _trim_value(v: str) -> str:
    """An unquoted value without the sentence's closing punctuation ("my password is hunter2.")."""
    return v[:-1] if len(v) > 4 and v[-1] in ".,;:!?)" else v


def _secret_value_ok(v: str, strict: bool) -> bool:
    if len(v) < 4 or v.lower() in _STOP_VALUES or _REFERENCE.fullmatch(v) or v[0] in "/~":
        return False
    if strict:  # a vaguer key (token, auth, key): only random-looking values
        return len(v) >= 8 and _WORDISH.fullmatch(v) is None and not v.isdigit() and entropy(v) >= 2.5
    return True


_PASSWORD_KEY_START = re.compile(rf"(?i){_PASSWORD_KEY}")
_KEY_START = Start(re.compile(r"passw|passphrase|pwd|secret|api|access|token|auth|credential|private"), lower=True)


def _scan_key_value(p: Probe) -> Iterator[Span]:
    text = p.text
    pos, n = 0, len(text)
    while pos < n:
        m = next_match(p, _KEY_VALUE, _KEY_START, pos)
        if m is None:
            return
        g = 1 if m.start(1) >= 0 else 2 if m.start(2) >= 0 else 3
        s, e = m.span(g)
        if g == 3:
            e = s + len(_trim_value(m.group(g)))
        # after a password key any value is a secret; after a vaguer key (token, auth, key) only a random-looking one
        strict = _PASSWORD_KEY_START.match(text, m.start()) is None
        if _secret_value_ok(text[s:e], strict):
            yield s, e
        pos = max(m.end(), m.start() + 1)


def _password_is_ok(v: str) -> bool:
    return _secret_value_ok(v, strict=False) and any(not c.isalpha() for c in v)


def _password_is_refine(text: str, m: re.Match[str], s: int, e: int) -> Span:
    return s, s + len(_trim_value(text[s:e]))


# credentials in a URL: ftp://user:pass@host, postgres://app:pa55@db:5432/x (the password is redacted)
_URL_CREDS = re.compile(r"(?i)(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{1,15}://[^\s:/?#@\"'<>]{1,128}:([^\s/?#\"'<>]{1,256})@")

_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]{1,20} ){0,3})PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]{0,64}-----")
# the body of a key pasted without its END line: a forward scan, once per BEGIN (not a detector pattern)
_PEM_BODY = re.compile(r"(?:[A-Za-z0-9+/=:,. \t\r\n]|-(?!----))*")


def _scan_pem(p: Probe) -> Iterator[Span]:
    """Private-key blocks, BEGIN to END (or, cut off, to the end of the base64 body); one forward pass."""
    text = p.text
    pos, n = 0, len(text)
    end_at = -2  # index of the next "-----END " at or after the last search start; -1: none left
    while pos < n:
        m = _PEM_BEGIN.search(text, pos)
        if m is None:
            return
        if end_at != -1 and end_at < m.end():
            end_at = text.find("-----END ", m.end())
        body_end = _PEM_BODY.match(text, m.end()).end()
        if end_at != -1 and body_end >= end_at and (e := _PEM_END.match(text, end_at)) is not None:
            stop = e.end()
        else:  # no END, or something else before it: the key runs to the end of its body
            stop = body_end
            while stop > m.end() and text[stop - 1] in " \t\r\n":
                stop -= 1
        yield m.start(), stop
        pos = max(stop, m.end())


_URL_TOKEN = re.compile(
    r"(?i)[?&](?:token|access_token|id_token|auth|key|api_key|apikey|sig|signature|secret|code|session|sid|"
    r"password|x-amz-signature|x-amz-credential)=([^&\s#\"'<>]{4,1024})"
)
_URL_TAIL = re.compile(r"[^&\s#\"'<>]*")


# -- the detectors, in priority order: an earlier one wins an overlap ---------------------------------------

def _any(*needles: str) -> Callable[[str], bool]:
    """Does a string contain any of the needles (one C-level scan)?"""
    search = re.compile("|".join(map(re.escape, needles))).search
    return lambda s: search(s) is not None


_PREFIX_HINT = re.compile(r"sk-|sk_|pk_|rk_|gh[pousr]_|github_pat_|AKIA|ASIA|xox|AIza|glpat-|eyJ")
# the same prefixes found from a character rare in prose (`-`, `_`, `A`, `J`): the cheap pre-check
_PREFIX_NEEDS = re.compile(
    r"[-_AJ](?:(?<=sk[-_])|(?<=[pr]k_)|(?<=gh[pousr]_)|(?<=github_)|(?<=glpat-)|(?<=xox[abposr]-)"
    r"|(?<=A)(?=KIA|SIA|Iza)|(?<=eyJ))"
)
_IBAN_HINT = re.compile(r"[0-9]{2}(?<=[A-Za-z]{2}[0-9]{2})")
_IBAN_START = Start(re.compile(r"[0-9]{2}(?<=[A-Za-z]{2}[0-9]{2})(?<![A-Za-z0-9][A-Za-z]{2}[0-9]{2})"), back=2)
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
_PHONE_WORDS = re.compile("phone|telephone|tel|mobile|mob|cell|fax|whatsapp|sms|call|text|reach|ring|dial")
_PHONE_START = re.compile(r"[+(0-9](?<![\w+/=.-][+(0-9])(?<![0-9][ .-][(0-9])")
_has_key_word = _any("pass", "pwd", "secret", "key", "token", "auth", "credential")
_has_phone_word = _any("phone", "tel", "mob", "cell", "fax", "whatsapp", "sms", "call", "text", "reach", "ring", "dial")
_has_ssn_word = _any("ss", "soc")


def context_key(key: str) -> bool:
    """Can this name give a value the context a detector reads (`password`, `phone`, `ssn`)? Then an attribute
    `{"password": "hunter2"}` is redacted as the text `password=hunter2` would be."""
    low = key.lower()
    return _has_key_word(low) or _has_phone_word(low) or _has_ssn_word(low)
# " at ", "[at]", "( at )": the literal "at" first, so the search jumps between its occurrences
_AT_HINT = re.compile(
    r"at(?:(?<=[ \t]at)[ \t]|(?:(?<=[\[({<]at)|(?<=[\[({<][ \t]at)|(?<=[\[({<][ \t]{2}at))[ \t]{0,2}[\])}>])"
)

_CARD_START = Start(re.compile(r"[0-9](?<![\w-][0-9])"))


_SEPARATORS = re.compile(r"[\s.-]")


def _iban_norm(v: str) -> str:
    return _SEPARATORS.sub("", v).upper()


# every detector's pre-check implies `gate(text)`; a text without (most attribute values) is skipped whole
_GATE_CHARS = re.compile(r"[0-9@=:%\[({<]")
GATE_WORDS = ("-----", " at", "\tat", "bearer", "token", "pass", "pwd", "sk-", "sk_", "pk_", "rk_", "gh", "github",
               "akia", "asia", "xox", "aiza", "glpat-", "eyj")


def gate(text: str) -> bool:
    """Can any detector match in this text at all? (A charset scan in C, then a few substring tests.)"""
    if _GATE_CHARS.search(text) is not None:
        return True
    low = text.lower()
    return any(w in low for w in GATE_WORDS)


DETECTORS: tuple[Detector, ...] = (
    Detector("URL_TOKEN", regex_scan(_URL_TOKEN, 1, tail=_URL_TAIL), str,
             lambda p: "=" in p.text and ("?" in p.text or "&" in p.text), (_URL_TOKEN,)),
    Detector("SECRET", _scan_pem, str, lambda p: "-----BEGIN" in p.text, (_PEM_BEGIN, _PEM_END)),
    Detector("SECRET", regex_scan(_URL_CREDS, 1), str, lambda p: "://" in p.text and "@" in p.text, (_URL_CREDS,)),
    Detector("SECRET", regex_scan(_SECRET_PREFIXED, 0, tail=_TOKEN_TAIL, start=Start(_PREFIX_HINT)), str,
             lambda p: _PREFIX_NEEDS.search(p.text) is not None, (_SECRET_PREFIXED,)),
    Detector("SECRET", regex_scan(_BEARER, 1, lambda v: entropy(v) >= 3.0, tail=_BEARER_TAIL,
                                  start=Start(re.compile("bearer|token"), lower=True)), str,
             lambda p: "bearer" in p.low or "token" in p.low, (_BEARER,)),
    Detector("SECRET", _scan_key_value, str, lambda p: ("=" in p.text or ":" in p.text) and _has_key_word(p.low),
             (_KEY_VALUE,)),
    Detector("SECRET", regex_scan(_PASSWORD_IS, 1, _password_is_ok, _password_is_refine,
                                  start=Start(re.compile("passw|passphrase|pwd"), lower=True)), str,
             lambda p: ("pass" in p.low or "pwd" in p.low) and (" is" in p.low or " was" in p.low),
             (_PASSWORD_IS,)),
    Detector("EMAIL", regex_scan(_EMAIL), email_norm, lambda p: "@" in p.text or "%40" in p.text, (_EMAIL,)),
    Detector("EMAIL", _scan_spelled, email_norm, lambda p: _AT_HINT.search(p.low) is not None,
             (_AT_DOMAIN, _LOCAL_BEFORE)),
    Detector("IBAN", regex_scan(_IBAN, 0, iban_ok, _iban_cut, start=_IBAN_START), _iban_norm,
             lambda p: p.digits >= 2 and _IBAN_HINT.search(p.text) is not None, (_IBAN,)),
    Detector("CREDIT_CARD", regex_scan(_CARD, 0, card_ok, start=_CARD_START), digits,
             lambda p: p.digits >= 13, (_CARD,)),
    Detector("SSN", regex_scan(_SSN_CTX, 1, ssn_ok, start=Start(re.compile("s(?:s|oc)"), lower=True)), digits,
             lambda p: p.digits >= 9 and ("ss" in p.low or "soc" in p.low), (_SSN_CTX,)),
    Detector("SSN", regex_scan(_SSN, 0, ssn_ok, start=Start(re.compile(r"[0-9](?<![\w.-][0-9])"))), digits,
             lambda p: p.digits >= 9, (_SSN,)),
    Detector("IPV6", regex_scan(_IPV6, 0, _ipv6_ok), _ipv6_norm, lambda p: _IPV6_HINT.search(p.text) is not None,
             (_IPV6,)),
    Detector("IPV4", regex_scan(_IPV4, 0, _ipv4_ok, start=Start(re.compile(r"[0-9](?<![\w.][0-9])"))), str,
             lambda p: p.digits >= 4 and p.text.count(".") >= 3, (_IPV4,)),
    Detector("PHONE", regex_scan(_PHONE_CTX, 1, _phone_ctx_ok, start=Start(_PHONE_WORDS, lower=True)), digits,
             lambda p: p.digits >= 7 and _has_phone_word(p.low), (_PHONE_CTX,)),
    Detector("PHONE", regex_scan(_PHONE, 0, _phone_ok, start=Start(_PHONE_START)), digits,
             lambda p: p.digits >= 8, (_PHONE,)),
)
