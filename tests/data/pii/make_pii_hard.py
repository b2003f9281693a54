# ruff: noqa: E501
"""Generate the two hardening PII sets from fixed seeds (pii_hard.jsonl, pii_unseen.jsonl).

`pii_hard.jsonl` plants the formats the first redactor missed and the detectors were then built
for (hardening issue, defect 3): phones without separators / with spaces / `phone=` / toll-free,
JSON and partial passwords, URL credentials, PEM private keys, cards with mixed separators, dots,
NBSP, zero-width characters and non-ASCII digits, lowercase and dashed IBANs, dotted and
keyword-introduced SSNs, IDN / `%40` / spelled-out emails. Decoys are look-alikes that are not PII.

`pii_unseen.jsonl` plants formats the detectors were NOT designed around; it was written before
the detectors and is only reported (recall per type), never tuned on.

Same row format as pii_set.jsonl: {"text": ..., "spans": [{"type", "start", "end", "value"}]}.
Run: python tests/data/pii/make_pii_hard.py  (rewrites both files next to this one)
"""

from __future__ import annotations

import importlib.util
import json
import random
import string
import sys
from collections.abc import Callable
from pathlib import Path

SEED_HARD = 20270311
SEED_UNSEEN = 20270312
N_PER_FORMAT = 24
N_DECOY = 360

_spec = importlib.util.spec_from_file_location("make_pii_set", Path(__file__).with_name("make_pii_set.py"))
base = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("make_pii_set", base)
_spec.loader.exec_module(base)  # type: ignore[union-attr]

FIRST, LAST, DOMAINS = base.FIRST, base.LAST, base.DOMAINS
IDN_LOCAL = ["müller", "zoë", "søren", "josé.garcía", "françois", "łukasz", "ana.peña", "björn", "用户", "δοκιμή", "иван"]
IDN_DOMAIN = ["münchen.de", "bücher.example", "correo.españa.es", "例子.中国", "пример.рф", "café.fr", "zürich.ch"]

Gen = Callable[[random.Random], tuple[str, str]]  # (fragment holding the value, the value)


def d(r: random.Random, n: int) -> str:
    return "".join(r.choice(string.digits) for _ in range(n))


def nz(r: random.Random, n: int) -> str:
    return str(r.randint(2, 9)) + d(r, n - 1)


def card_digits(r: random.Random, length: int = 16) -> str:
    prefix = r.choice(["4", "51", "52", "55", "6011", "2221"]) if length == 16 else r.choice(["34", "37"])
    body = prefix + d(r, length - len(prefix) - 1)
    return body + base.luhn_digit(body)


def groups4(num: str) -> list[str]:
    return [num[i:i + 4] for i in range(0, len(num), 4)]


def iban_compact(r: random.Random) -> str:
    v = base.iban(r)
    return v.replace(" ", "")


def same(v: str) -> tuple[str, str]:
    return v, v


def translate_digits(s: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in s)


# -- formats the hardened detectors were designed for -------------------------------------------------------

def _email_idn(r):
    return same(f"{r.choice(IDN_LOCAL)}@{r.choice(IDN_DOMAIN)}")


def _email_pct(r):
    v = f"{r.choice(FIRST)}.{r.choice(LAST)}%40{r.choice(DOMAINS)}"
    return f"https://news.example.com/unsubscribe?email={v}&list=7", v


def _email_spelled(r):
    f, la, dom = r.choice(FIRST), r.choice(LAST), r.choice(["gmail", "outlook", "yahoo", "proton", "example"])
    tld = r.choice(["com", "org", "net", "de", "io"])
    return same(r.choice([
        f"{f} dot {la} at {dom} dot {tld}",
        f"{f}.{la} at {dom} dot {tld}",
        f"{f} at {dom} dot {tld}",
        f"{f}.{la} AT {dom} DOT {tld}",
    ]))


def _email_bracket(r):
    f, la, dom = r.choice(FIRST), r.choice(LAST), r.choice(["gmail", "outlook", "acme-corp", "uni-bonn"])
    tld = r.choice(["com", "org", "de", "co.uk"])
    return same(r.choice([
        f"{f}.{la} [at] {dom} [dot] {tld.replace('.', ' [dot] ')}",
        f"{f}.{la}[at]{dom}.{tld}",
        f"{f}(at){dom}(dot){tld.replace('.', '(dot)')}",
        f"{f}_{la} (at) {dom}.{tld}",
        f"{f} {{at}} {dom} {{dot}} {tld.replace('.', ' {dot} ')}",
    ]))


def _email_fullwidth(r):
    v = f"{r.choice(FIRST)}.{r.choice(LAST)}@{r.choice(DOMAINS)}"
    return same("".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in v))


def _phone_bare_ctx(r):
    v = r.choice([f"{nz(r, 3)}{nz(r, 3)}{d(r, 4)}", f"1{nz(r, 3)}{nz(r, 3)}{d(r, 4)}", f"06{d(r, 8)}", f"07{d(r, 9)}"])
    return f"{r.choice(['phone:', 'call me at', 'mobile', 'Tel', 'cell:', 'text me on', 'whatsapp'])} {v}", v


def _phone_e164(r):
    return same(r.choice([f"+1{nz(r, 3)}{nz(r, 3)}{d(r, 4)}", f"+44{7}{d(r, 9)}", f"+49{nz(r, 3)}{d(r, 7)}", f"+33{r.randint(1, 9)}{d(r, 8)}"]))


def _phone_spaces(r):
    return same(r.choice([f"{nz(r, 3)} {nz(r, 3)} {d(r, 4)}", f"({nz(r, 3)}) {nz(r, 3)} {d(r, 4)}", f"1 {nz(r, 3)} {nz(r, 3)} {d(r, 4)}",
                          f"+1 {nz(r, 3)} {nz(r, 3)} {d(r, 4)}".replace(" ", "\u00a0")]))


def _phone_prefix(r):
    v = r.choice([f"{nz(r, 3)}{nz(r, 3)}{d(r, 4)}", f"+1{nz(r, 3)}{nz(r, 3)}{d(r, 4)}", f"{nz(r, 3)}-{nz(r, 3)}-{d(r, 4)}"])
    key = r.choice(["phone=", "user_phone=", "tel:", "phone_number=", "Phone: "])
    return f"{key}{v}", v


def _phone_tollfree(r):
    area = r.choice(["800", "888", "877", "866", "855"])
    return same(r.choice([f"1-{area}-{nz(r, 3)}-{d(r, 4)}", f"1 ({area}) {nz(r, 3)} {d(r, 4)}", f"1.{area}.{nz(r, 3)}.{d(r, 4)}",
                          f"{area}-{nz(r, 3)}-{d(r, 4)}", f"1-{area}-{nz(r, 3)}-{d(r, 4)}"]))


def _card_mixed(r):
    g = groups4(card_digits(r))
    seps = [r.choice([" ", "-"]) for _ in range(3)]
    if len(set(seps)) == 1:
        seps[1] = "-" if seps[0] == " " else " "
    return same(g[0] + seps[0] + g[1] + seps[1] + g[2] + seps[2] + g[3])


def _card_dots(r):
    return same(".".join(groups4(card_digits(r))))


def _card_nbsp(r):
    return same(r.choice(["\u00a0", "\u202f", "\u2009"]).join(groups4(card_digits(r))))


def _card_zero_width(r):
    num = card_digits(r)
    zw = r.choice(["\u200b", "\u200c", "\u2060", "\ufeff", "\u00ad"])
    if r.random() < 0.5:
        return same(zw.join(groups4(num)))
    i = r.randint(1, 14)
    return same(num[:i] + zw + num[i:])


def _card_unicode_digits(r):
    num = " ".join(groups4(card_digits(r)))
    zero = r.choice(["\uff10", "\u0660", "\u0966", "\u06f0"])  # full-width, Arabic-Indic, Devanagari, Persian
    return same(translate_digits(num, zero))


def _iban_lower(r):
    v = base.iban(r).lower()
    return same(v)


def _iban_dashed(r):
    s = iban_compact(r)
    return same("-".join(s[i:i + 4] for i in range(0, len(s), 4)))


def _ssn_dotted(r):
    return same(f"{r.randint(1, 665):03d}.{r.randint(1, 99):02d}.{r.randint(1, 9999):04d}")


def _ssn_keyword(r):
    v = f"{r.randint(1, 665):03d}{r.randint(1, 99):02d}{r.randint(1, 9999):04d}"
    key = r.choice(["social security number", "SSN:", "ssn", "SSN#", "Social Security No.", "social security number is"])
    return f"{key} {v}", v


def _secret_json(r):
    v = base.rand(r, r.randint(8, 20), string.ascii_letters + string.digits + "!#$%&*")
    key = r.choice(["password", "db_password", "api_key", "client_secret", "passwd"])
    q = r.choice(['"', "'"])
    return f"{{{q}{key}{q}: {q}{v}{q}, {q}user{q}: {q}anna{q}}}", v


def _secret_partial(r):
    v = r.choice(["Tr0ub4dor&3", "c0rrect&horse", "p@ss&w0rd!", "S3cure&Safe", "h&nter22"]) + d(r, 2)
    return f"{r.choice(['password:', 'password =', 'PASSWORD=', 'pwd:', 'passphrase:'])} {v}", v


def _secret_url_creds(r):
    v = base.rand(r, r.randint(6, 16), string.ascii_letters + string.digits + "!$*")
    url = r.choice(["ftp://{u}:{p}@files.example.com/pub/", "https://{u}:{p}@git.example.org/repo.git",
                    "postgres://{u}:{p}@db.internal:5432/app", "sftp://{u}:{p}@upload.example.net/in"])
    return url.format(u=r.choice(FIRST), p=v), v


def _secret_pem(r):
    kind = r.choice(["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED ", "DSA "])
    lines = [base.rand(r, 64, string.ascii_letters + string.digits + "+/") for _ in range(r.randint(3, 8))]
    block = f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + f"\n{base.rand(r, 20)}==\n-----END {kind}PRIVATE KEY-----"
    return same(block)


DESIGNED: dict[str, list[Gen]] = {
    "EMAIL": [_email_idn, _email_pct, _email_spelled, _email_bracket, _email_fullwidth],
    "PHONE": [_phone_bare_ctx, _phone_e164, _phone_spaces, _phone_prefix, _phone_tollfree],
    "CREDIT_CARD": [_card_mixed, _card_dots, _card_nbsp, _card_zero_width, _card_unicode_digits],
    "IBAN": [_iban_lower, _iban_dashed, _iban_lower, _iban_dashed, lambda r: same(base.iban(r))],
    "SSN": [_ssn_dotted, _ssn_keyword, _ssn_keyword, _ssn_dotted, lambda r: same(base.ssn(r))],
    "SECRET": [_secret_json, _secret_partial, _secret_url_creds, _secret_pem, _secret_json],
    "IPV4": [lambda r: same(base.ipv4(r))] * 4,
    "IPV6": [lambda r: same(base.ipv6(r))] * 4,
    "URL_TOKEN": [lambda r: base.url_token(r)] * 4,
}

HARD_DECOYS = [
    lambda r: f"Order {nz(r, 3)}{nz(r, 3)}{d(r, 4)} shipped; tracking 1Z{base.rand(r, 6, string.ascii_uppercase + string.digits)}{d(r, 10)}.",
    lambda r: f"The event fired at unix time 1{d(r, 9)} (ms {r.randint(1600000000000, 1799999999999)}).",
    lambda r: f"Invoice {r.randint(2020, 2026)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}-{d(r, 4)} is attached.",
    lambda r: f"ISBN 978-{r.randint(0, 9)}-{d(r, 2)}-{d(r, 6)}-{r.randint(0, 9)} and ISBN {'978' + d(r, 10)}.",
    lambda r: f"The meeting is on {r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(2020, 2026)} in room {d(r, 3)}.",
    lambda r: f"Have a look at example.com or at docs.python.org for {r.choice(['details', 'more'])}.",
    lambda r: "The password is incorrect, please try again." if r.random() < 0.5 else "The password was too short and the token expired.",
    lambda r: f"password: {'*' * r.randint(6, 12)} (masked) and password=<redacted>",
    lambda r: f"author: {r.choice(FIRST).title()} {r.choice(LAST).title()}, tokenizer=bert-base-uncased, max_tokens={r.randint(256, 8192)}",
    lambda r: f"PWD=/home/{r.choice(FIRST)}/project and password_min_length={r.randint(8, 16)}",
    lambda r: "-----BEGIN CERTIFICATE-----\n" + base.rand(r, 64, string.ascii_letters + string.digits + "+/") + "\n-----END CERTIFICATE-----",
    lambda r: "-----BEGIN PUBLIC KEY-----\n" + base.rand(r, 64, string.ascii_letters + string.digits + "+/") + "\n-----END PUBLIC KEY-----",
    lambda r: f"Download ftp://ftp.example.com/pub/{base.rand(r, 8)}.tar.gz and https://example.org:8443/a/b?page={r.randint(1, 9)}.",
    lambda r: f"Reference {'.'.join(groups4(base.invalid_card(r)))} is not a card number.",
    lambda r: f"Ticket {' '.join(groups4(base.invalid_card(r)))} (bad checksum) and part 4111-1111-{d(r, 4)}.",
    lambda r: f"hash {base.rand(r, 22, 'abcdef0123456789')} and build de{d(r, 2)}{base.rand(r, 18, 'abcdef0123456789')}x{d(r, 3)}",
    lambda r: f"Scores were {r.randint(10, 99)}.{r.randint(1, 9)}, {r.randint(10, 99)}.{r.randint(10, 99)} and {r.randint(1, 9)}/{r.randint(10, 20)} in the last runs.",
    lambda r: f"Call me {r.choice(['tomorrow', 'at 10', 'on monday'])}, my office is room {d(r, 3)} and my employee id is {nz(r, 3)}{d(r, 5)}.",
    lambda r: f"Version 10.{r.randint(0, 9)}.{r.randint(0, 99)}.{r.randint(0, 999)} of the app; price 1 234 567,{d(r, 2)} EUR.",
    lambda r: f"We met {r.choice(FIRST)} at the conference dot {r.choice(['matters', 'later'])} and {r.choice(FIRST)} at home.",
    lambda r: f"Matrix [{d(r, 2)} {d(r, 2)} {d(r, 2)}] and the sums {d(r, 4)} {d(r, 4)} {d(r, 4)} {d(r, 4)} {d(r, 4)} are fine.",
    lambda r: "Full-width text ｈｅｌｌｏ ｗｏｒｌｄ and Arabic digits ٢٠٢٤ in a date, zero\u200bwidth joiner.",
    lambda r: f"Our SSN field validation rejects {r.randint(900, 999)}-{d(r, 2)}-{d(r, 4)} and 000-12-3456.",
]


# -- formats the detectors were NOT designed around (reported only) -----------------------------------------

def _u_email(r):
    f, la, dom = r.choice(FIRST), r.choice(LAST), r.choice(DOMAINS)
    return same(r.choice([
        f"{f}.{la} @ {dom}", f"{f.upper()}.{la.upper()}@{dom.upper()}", f"{f}%2E{la}%40{dom}",
        f'"{f} {la}"@{dom}', f"{f}.{la}@{r.choice(['studio.photography', 'mail.consulting', 'me.xn--p1ai'])}",
        f"{'.'.join(f)}@{dom}", f"{f} at {r.choice(['gmail', 'yahoo'])}", f"{f}.{la}＠{dom.replace('.', '．')}",
        f"{f}(dot){la}(at){dom.replace('.', '(dot)')}", f"{f} [dot] {la} [at] {dom.replace('.', ' [dot] ')}",
    ]))


def _u_phone(r):
    return same(r.choice([
        "1-800-FLOWERS", f"{nz(r, 3)}-{nz(r, 3)}-{d(r, 4)} x{d(r, 3)}", f"+44 (0) 20 {d(r, 4)} {d(r, 4)}",
        f"(0)20 {d(r, 4)} {d(r, 4)}", f"tel:+1-{nz(r, 3)}-{nz(r, 3)}-{d(r, 4)}", " ".join(f"{nz(r, 3)}{nz(r, 3)}{d(r, 4)}"),
        f"03-{d(r, 4)}-{d(r, 4)}", f"9{d(r, 4)} {d(r, 5)}", f"138 {d(r, 4)} {d(r, 4)}", f"{nz(r, 3)}/{nz(r, 3)}-{d(r, 4)}",
        f"+1 ({nz(r, 3)}) {nz(r, 3)}–{d(r, 4)}", f"0{nz(r, 3)} / {d(r, 6)}",
    ]))


def _u_card(r):
    num = card_digits(r)
    g = groups4(num)
    return same(r.choice([
        "/".join(g), "  ".join(g), " - ".join(g), "\n".join([" ".join(g[:2]), " ".join(g[2:])]),
        f"{num}", "_".join(g), ",".join(g), " ".join([num[:4], num[4:8], num[8:12], num[12:14], num[14:]]),
        "".join(chr(0x1D7CE + int(c)) for c in num),  # mathematical bold digits
    ])) if r.random() < 0.9 else same(f"{card_digits(r, 15)[:4]} {card_digits(r, 15)[4:10]}")


def _u_iban(r):
    s = iban_compact(r)
    return same(r.choice([
        ".".join(s[i:i + 4] for i in range(0, len(s), 4)), f"{s[:2]} {s[2:4]} " + " ".join(s[i:i + 4] for i in range(4, len(s), 4)),
        "  ".join(s[i:i + 4] for i in range(0, len(s), 4)), f"{s[:4]} {s[4:]}".lower(), "/".join(s[i:i + 4] for i in range(0, len(s), 4)),
    ]))


def _u_ssn(r):
    a, g, s = f"{r.randint(1, 665):03d}", f"{r.randint(1, 99):02d}", f"{r.randint(1, 9999):04d}"
    return r.choice([
        same(f"{a}/{g}/{s}"), (f"ssn:{a}{g}{s}", f"{a}{g}{s}"), (f"Social Security No. {a} {g} {s}", f"{a} {g} {s}"),
        (f"SSN - {a}-{g}-{s}", f"{a}-{g}-{s}"), (f"social-security: {a}{g}{s}", f"{a}{g}{s}"), same(f"{a} - {g} - {s}"),
        (f"my social is {a}-{g}-{s}", f"{a}-{g}-{s}"), (f"TIN/SSN {a}{g}{s}", f"{a}{g}{s}"),
    ])


def _u_secret(r):
    v = base.rand(r, r.randint(10, 24), string.ascii_letters + string.digits)
    basic = base.rand(r, 24, string.ascii_letters + string.digits) + "="
    aws = base.rand(r, 40, string.ascii_letters + string.digits + "/+")
    azure = base.rand(r, 43, string.ascii_letters + string.digits + "+/") + "="
    pgp = f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{base.rand(r, 64)}\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----"
    putty = f"Private-Lines: 1\n{base.rand(r, 60)}"
    return r.choice([
        (f"export PASSWORD='p@ss w0rd {v}'", f"p@ss w0rd {v}"), (f"pw={v}", v), (f"passcode: {v}", v), (f"PGPASSWORD={v} psql", v),
        (f"mysql -u root -p{v} mydb", v), (f"machine example.com login anna password {v}", v),
        (f"Authorization: Basic {basic}", basic), (f"redis://:{v}@cache.internal:6379", v),
        (f"aws_secret_access_key = {aws}", aws), same("hf_" + base.rand(r, 34)), same("npm_" + base.rand(r, 36)),
        (f"AccountName=acct;AccountKey={azure};EndpointSuffix=core", azure), same(pgp),
        (f"PuTTY-User-Key-File-2: ssh-rsa\n{putty}", putty), (f"the wifi password is {v}", v), (f'{{"pass": "{v}"}}', v),
    ])


def _u_url_token(r):
    v = base.rand(r, r.randint(16, 40), string.ascii_letters + string.digits + "-_")
    return r.choice([
        f"https://app.example.com/cb#access_token={v}&state=x", f"https://x.io/a?X-Goog-Signature={v}",
        f"https://x.io/a?access-token={v}", f"https://x.io/a?apiKey={v}", f"https://x.io/a;jsessionid={v}",
        f"https://x.io/reset/{v}?utm=1", f"wss://x.io/socket?auth_token={v}",
    ]), v


def _u_ip(r):
    a = base.ipv4(r)
    # the port and the prefix length are not part of the address (labels fixed after the first run: they were)
    return r.choice([same(".".join(f"{int(x):03d}" for x in a.split("."))), (a + "/24", a), (a + ":8080", a),
                     (f"ip={a}", a), same(f"::ffff:{a}")])


def _u_ip6(r):
    v = base.ipv6(r)
    z = f"fe80::{d(r, 1)}"
    return r.choice([(f"[{v}]:8080", v), (f"{z}%eth0", z), same(v.upper()), (f"ip6={v}", v),
                     same(f"2001:0db8:0000:0000:0000:ff00:0042:{d(r, 4)}")])


UNSEEN: dict[str, list[Gen]] = {
    "EMAIL": [_u_email], "PHONE": [lambda r: _u_phone(r)], "CREDIT_CARD": [_u_card], "IBAN": [_u_iban], "SSN": [_u_ssn],
    "SECRET": [_u_secret], "URL_TOKEN": [_u_url_token], "IPV4": [_u_ip], "IPV6": [_u_ip6],
}

TEMPLATES = ["Hi, {} — please check.", "Here is my config:\n{}\nwhy does it fail?", "Contact: {}", "{}",
             "URGENT: my details are {} (do not share)", "Logged: user said '{}' twice.", "Notes:\n- {}\n- done"]


def _rows(r: random.Random, formats: dict[str, list[Gen]], per_type: int, decoys: list, n_decoy: int) -> list[dict]:
    rows: list[dict] = []
    for type_, gens in formats.items():
        for i in range(per_type):
            fragment, value = gens[i % len(gens)](r)
            text = r.choice(TEMPLATES).format(fragment)
            start = text.index(fragment) + fragment.index(value)
            rows.append({"text": text, "spans": [{"type": type_, "start": start, "end": start + len(value), "value": value}]})
    for _ in range(n_decoy):
        rows.append({"text": r.choice(decoys)(r), "spans": []})
    r.shuffle(rows)
    return rows


def build_hard(seed: int = SEED_HARD) -> list[dict]:
    return _rows(random.Random(seed), DESIGNED, 5 * N_PER_FORMAT, HARD_DECOYS, N_DECOY)


def build_unseen(seed: int = SEED_UNSEEN) -> list[dict]:
    return _rows(random.Random(seed), UNSEEN, 60, HARD_DECOYS, 120)


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    here = Path(__file__).parent
    write(here / "pii_hard.jsonl", build_hard())
    write(here / "pii_unseen.jsonl", build_unseen())
    print(f"wrote {here / 'pii_hard.jsonl'} and {here / 'pii_unseen.jsonl'}")
