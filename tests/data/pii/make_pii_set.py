# ruff: noqa: E501
"""Generate the labelled PII test set (pii_set.jsonl) from a fixed seed.

Each line: {"text": ..., "spans": [{"type", "start", "end", "value"}]}. Values are planted in
realistic support/chat sentences; decoy lines hold look-alikes that are NOT PII (dates, versions,
prices, order numbers, invalid-Luhn card numbers, hashes) so precision is measured too.
Run: python tests/data/pii/make_pii_set.py  (rewrites pii_set.jsonl next to this file)
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

SEED = 20261127
N_PER_TYPE = 120
N_DECOY = 300

FIRST = ["anna", "li", "mohamed", "sofia", "jan", "priya", "lucas", "emma", "kenji", "olga", "diego", "fatima"]
LAST = ["meyer", "wang", "okafor", "rossi", "novak", "sharma", "dubois", "smith", "tanaka", "ivanova"]
DOMAINS = ["gmail.com", "example.org", "acme-corp.co.uk", "uni-heidelberg.de", "mail.example.fr", "outlook.com",
           "startup.io", "company.com.br"]


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def email(r: random.Random) -> str:
    sep = r.choice([".", "_", "", "-", "+news."])
    return f"{r.choice(FIRST)}{sep}{r.choice(LAST)}{r.randint(0, 99) if r.random() < 0.4 else ''}@{r.choice(DOMAINS)}"


def phone(r: random.Random) -> str:
    d = lambda n: "".join(r.choice(string.digits) for _ in range(n))  # noqa: E731
    nz = lambda n: str(r.randint(2, 9)) + d(n - 1)  # noqa: E731
    return r.choice([
        lambda: f"({nz(3)}) {nz(3)}-{d(4)}",
        lambda: f"{nz(3)}-{nz(3)}-{d(4)}",
        lambda: f"{nz(3)}.{nz(3)}.{d(4)}",
        lambda: f"+1 {nz(3)} {nz(3)} {d(4)}",
        lambda: f"+1-{nz(3)}-{nz(3)}-{d(4)}",
        lambda: f"+44 20 {d(4)} {d(4)}",
        lambda: f"+44 7{d(3)} {d(6)}",
        lambda: f"+49 30 {d(6)}{d(2)}",
        lambda: f"+49 (0)89 {d(4)} {d(3)}",
        lambda: f"+33 {r.randint(1, 9)} {d(2)} {d(2)} {d(2)} {d(2)}",
        lambda: f"+34 {nz(3)} {d(3)} {d(3)}",
        lambda: f"+39 {nz(3)} {d(7)}",
        lambda: f"+91 {nz(5)} {d(5)}",
        lambda: f"+81 3-{d(4)}-{d(4)}",
        lambda: f"06 {d(2)} {d(2)} {d(2)} {d(2)}",
        lambda: f"020 {d(4)} {d(4)}",
        lambda: f"030 {d(6)}{d(2)}",
        lambda: f"0{nz(3)}-{d(3)}-{d(4)}",
    ])()


def card(r: random.Random) -> str:
    kind = r.choice(["visa", "mc", "amex", "disc"])
    prefix, length = {"visa": ("4", 16), "mc": (str(r.randint(51, 55)), 16), "amex": (r.choice(["34", "37"]), 15),
                      "disc": ("6011", 16)}[kind]
    body = prefix + "".join(r.choice(string.digits) for _ in range(length - len(prefix) - 1))
    num = body + luhn_digit(body)
    style = r.choice(["plain", "space", "dash"])
    if style == "plain":
        return num
    sep = " " if style == "space" else "-"
    groups = [num[:4], num[4:10], num[10:]] if kind == "amex" else [num[i:i + 4] for i in range(0, 16, 4)]
    return sep.join(groups)


IBAN_LAYOUT = {"DE": 18, "GB": None, "FR": 23, "NL": None, "ES": 20, "IT": None, "BE": 12, "AT": 16, "CH": 17}


def iban(r: random.Random) -> str:
    cc = r.choice(list(IBAN_LAYOUT))
    if cc == "GB":
        bban = "".join(r.choice(string.ascii_uppercase) for _ in range(4)) + "".join(r.choice(string.digits) for _ in range(14))
    elif cc == "NL":
        bban = "".join(r.choice(string.ascii_uppercase) for _ in range(4)) + "".join(r.choice(string.digits) for _ in range(10))
    elif cc == "IT":
        bban = r.choice(string.ascii_uppercase) + "".join(r.choice(string.digits) for _ in range(22))
    else:
        bban = "".join(r.choice(string.digits) for _ in range(IBAN_LAYOUT[cc]))
    num = int("".join(str(int(c, 36)) for c in bban + cc + "00"))
    s = f"{cc}{98 - num % 97:02d}{bban}"
    if r.random() < 0.5:
        s = " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    return s


def ssn(r: random.Random) -> str:
    area = r.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"


def ipv4(r: random.Random) -> str:
    return ".".join(str(x) for x in [r.randint(1, 223), r.randint(0, 255), r.randint(0, 255), r.randint(1, 254)])


def ipv6(r: random.Random) -> str:
    groups = [f"{r.randint(0, 0xFFFF):x}" for _ in range(8)]
    style = r.random()
    if style < 0.4:
        return ":".join(groups)
    if style < 0.8:
        return ":".join(groups[:3]) + "::" + ":".join(groups[6:])
    return "2001:db8::" + groups[7]


def rand(r: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def secret(r: random.Random) -> tuple[str, str]:
    """(text fragment with the secret, the secret value)."""
    kind = r.randrange(9)
    if kind == 0:
        v = "sk-" + rand(r, 48)
    elif kind == 1:
        v = "sk-proj-" + rand(r, 40, string.ascii_letters + string.digits + "_-")
    elif kind == 2:
        v = "ghp_" + rand(r, 36)
    elif kind == 3:
        v = "AKIA" + rand(r, 16, string.ascii_uppercase + string.digits)
    elif kind == 4:
        v = f"xoxb-{rand(r, 12, string.digits)}-{rand(r, 12, string.digits)}-{rand(r, 24)}"
    elif kind == 5:
        v = rand(r, 40, string.ascii_letters + string.digits + "-_.")
        return f"Authorization: Bearer {v}", v
    elif kind == 6:
        v = rand(r, 32, string.hexdigits.lower()[:16])
        key = r.choice(["api_key", "API_KEY", "client_secret", "db_password", "AUTH_TOKEN", "access_key"])
        return f"{key}={v}", v
    elif kind == 7:
        v = rand(r, 24, string.ascii_letters + string.digits + "!@#$%^*")
        return f'password: "{v}"', v
    else:
        v = "sk_live_" + rand(r, 24)
    return v, v


def url_token(r: random.Random) -> tuple[str, str]:
    v = rand(r, r.randint(16, 40), string.ascii_letters + string.digits + "-_")
    param = r.choice(["token", "access_token", "key", "sig", "api_key", "signature", "code"])
    host = r.choice(["https://api.example.com/v2/files", "https://cdn.acme.io/download", "http://hooks.internal:8080/hook",
                     "https://s3.amazonaws.com/bucket/report.pdf"])
    first = r.choice(["", "?user=42&", "?page=2&"])
    url = f"{host}{first or '?'}{param}={v}" + r.choice(["", "&lang=en", "#top"])
    return url, v


TEMPLATES = {
    "EMAIL": ["Please send the invoice to {} before Friday.", "My email is {}, can you reset my account?",
              "cc: {}\nSubject: refund request", "Contact ({}) regarding the outage."],
    "PHONE": ["You can reach me at {} after 5pm.", "Call our hotline {} if the problem persists.",
              "Tel.: {}\nFax: none", "my number is {}. thanks!"],
    "CREDIT_CARD": ["I was charged twice on card {} last month.", "Card: {} exp 04/27 — why was it declined?",
                    "can you check payment with {}?"],
    "IBAN": ["Please wire the refund to IBAN {}.", "Bankverbindung: {} (Sparkasse)", "account {} is mine"],
    "SSN": ["My SSN is {} and the form keeps rejecting it.", "SSN: {}\nDOB: 1984", "social security number {}."],
    "IPV4": ["The server at {} returns 502 since the update.", "Blocked login from {} at 03:14.",
             "ssh admin@{} -p 22 fails"],
    "IPV6": ["Our gateway {} drops packets.", "ping6 {} gives timeout", "client addr={} flagged"],
}

DECOYS = [
    lambda r: f"Order #{r.randint(100000, 999999)} shipped on 2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}.",
    lambda r: f"Upgrade from v{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)} to the latest release.",
    lambda r: f"The total was ${r.randint(1, 9)},{r.randint(100, 999)}.{r.randint(10, 99)} including tax.",
    lambda r: f"Meeting moved to {r.randint(1, 28):02d}.{r.randint(1, 12):02d}.2025 at {r.randint(8, 18)}:{r.choice(['00', '30'])}.",
    lambda r: f"Reference number {invalid_card(r)} is not a card, it is our ticket id.",
    lambda r: f"ISBN 978-{r.randint(0, 9)}-{r.randint(10, 99)}-{r.randint(100000, 999999)}-{r.randint(0, 9)} is out of print.",
    lambda r: f"commit {rand(r, 40, '0123456789abcdef')} fixed the bug.",
    lambda r: f"Set max_tokens to {r.randint(256, 8192)} and temperature={r.random():.2f} for the run.",
    lambda r: f"The token limit is {r.randint(1000, 200000)} and the key idea is caching.",
    lambda r: f"Compute {r.randint(100, 999)} * {r.randint(100, 999)} + {r.randint(1000, 9999)} for me.",
    lambda r: f"Population grew from {r.randint(1, 9)},{r.randint(100, 999)},{r.randint(100, 999)} to more.",
    lambda r: f"Coordinates 48.{r.randint(1000, 9999)}, 11.{r.randint(1000, 9999)} are near Munich.",
    lambda r: f"Run it at {r.randint(10, 23)}:{r.randint(10, 59)}:{r.randint(10, 59)} UTC on port {r.randint(1024, 65535)}.",
    lambda r: f"UUID {rand(r, 8, '0123456789abcdef')}-{rand(r, 4, '0123456789abcdef')}-4{rand(r, 3, '0123456789abcdef')}"
              f"-a{rand(r, 3, '0123456789abcdef')}-{rand(r, 12, '0123456789abcdef')} was not found.",
    lambda r: "The password field should be at least 12 characters and the api key rotates monthly.",
    lambda r: f"Chapter {r.randint(1, 30)}, verses {r.randint(1, 20)}-{r.randint(21, 40)}, and page {r.randint(1, 500)}.",
    lambda r: f"Version 10.{r.randint(0, 9)}.{r.randint(0, 99)}.{r.randint(0, 999)} of the firmware is buggy.",
]


def invalid_card(r: random.Random) -> str:
    body = "4" + "".join(r.choice(string.digits) for _ in range(14))
    good = int(luhn_digit(body))
    return body + str((good + r.randint(1, 9)) % 10)


def build(seed: int = SEED) -> list[dict]:
    r = random.Random(seed)
    rows: list[dict] = []
    gens = {"EMAIL": email, "PHONE": phone, "CREDIT_CARD": card, "IBAN": iban, "SSN": ssn, "IPV4": ipv4, "IPV6": ipv6}
    for type_, gen in gens.items():
        for _ in range(N_PER_TYPE):
            value = gen(r)
            tpl = r.choice(TEMPLATES[type_])
            prefix = r.choice(["", "Hi, ", "Hello team,\n", "URGENT: "])
            text = prefix + tpl.format(value)
            start = text.index(value)
            rows.append({"text": text, "spans": [{"type": type_, "start": start, "end": start + len(value),
                                                  "value": value}]})
    for type_, gen2 in (("SECRET", secret), ("URL_TOKEN", url_token)):
        for _ in range(N_PER_TYPE):
            fragment, value = gen2(r)
            text = r.choice(["Here is my config:\n{}\nwhy does it fail?", "I pasted {} into the client and got 401.",
                             "curl '{}' returns an error", "error log: {} (line 12)"]).format(fragment)
            start = text.index(value)
            rows.append({"text": text, "spans": [{"type": type_, "start": start, "end": start + len(value),
                                                  "value": value}]})
    # several identifiers in one message, as in real tickets
    for _ in range(N_PER_TYPE // 2):
        e, p, c = email(r), phone(r), card(r)
        text = f"Name on file, email {e}, phone {p}. Please refund to card {c} asap."
        spans = []
        for t, v in (("EMAIL", e), ("PHONE", p), ("CREDIT_CARD", c)):
            s = text.index(v)
            spans.append({"type": t, "start": s, "end": s + len(v), "value": v})
        rows.append({"text": text, "spans": spans})
    for _ in range(N_DECOY):
        rows.append({"text": r.choice(DECOYS)(r), "spans": []})
    r.shuffle(rows)
    return rows


if __name__ == "__main__":
    out = Path(__file__).with_name("pii_set.jsonl")
    with out.open("w", encoding="utf-8") as fh:
        for row in build():
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
