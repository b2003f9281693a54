# ruff: noqa: E501
"""Generate the labelled person-name and street-address set (names_addresses.jsonl) from a fixed seed.

Names from many languages in the forms people type in a chat ("Priya Sharma", "priya sharma",
"Dr. Okafor", "Sharma, Priya", "José M. García"); addresses in US, UK, German, French, Spanish,
Italian and Dutch formats, some typed informally. Decoys hold capitalized words and numbers that are
neither (products, places without a house number, rooms, book titles). Same row format as
pii_set.jsonl with types PERSON and ADDRESS. Used by measure_names_addresses.py; the redactor does
not detect these types (see names_addresses.md).

Run: python tests/data/pii/make_names_addresses.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20270313
N_PER_TYPE = 160
N_DECOY = 160

FIRST = ["James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "William", "Linda", "José", "María", "Carlos",
         "Lucía", "Alejandro", "Valentina", "Jürgen", "Sabine", "Klaus", "Ulrike", "Étienne", "Camille", "Aurélie",
         "Wei", "Xiaoming", "Jun", "Haruto", "Yui", "Takeshi", "Aarav", "Priya", "Rohan", "Ananya", "Sanjay",
         "Mohammed", "Fatima", "Omar", "Aisha", "Youssef", "Chidi", "Ngozi", "Kwame", "Amara", "Thabo", "Dmitri",
         "Olga", "Katarzyna", "Piotr", "Björn", "Ingrid", "Sigrid", "Min-jun", "Seo-yeon", "Thi", "Siobhan", "Tariq"]
LAST = ["Smith", "Johnson", "García", "Rodríguez", "Müller", "Schmidt", "Dubois", "Lefèvre", "Wang", "Zhang", "Chen",
        "Tanaka", "Suzuki", "Patel", "Sharma", "Singh", "Al-Sayed", "Haddad", "Okafor", "Mensah", "Nkosi",
        "Kowalski", "Nowak", "Ivanov", "Andersson", "Kim", "Park", "Nguyen", "O'Brien", "van der Berg", "MacDonald",
        "Fitzgerald", "Yilmaz", "Papadopoulos", "Ferreira"]
TITLES = ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]

US_STREETS = ["Maple", "Oak", "Elm", "Washington", "Lincoln", "Lake", "Hillcrest", "Sunset", "Pine", "Cedar", "Main", "5th"]
US_SUFFIX = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Blvd", "Lane", "Ln", "Drive", "Dr", "Court"]
US_CITIES = [("Springfield", "IL", "627"), ("Austin", "TX", "787"), ("Denver", "CO", "802"), ("Portland", "OR", "972"),
             ("Columbus", "OH", "432"), ("Raleigh", "NC", "276"), ("Madison", "WI", "537"), ("Tucson", "AZ", "857")]
UK = [("Baker Street", "London", "NW1 6XE"), ("Queen's Road", "Bristol", "BS8 1QU"), ("High Street", "Oxford", "OX1 4AP"),
      ("Church Lane", "Leeds", "LS6 2AB"), ("Victoria Road", "Glasgow", "G42 7AD")]
DE = [("Hauptstraße", "10115 Berlin"), ("Müllerweg", "80331 München"), ("Goethestraße", "60313 Frankfurt am Main"),
      ("Am Markt", "28195 Bremen"), ("Lindenallee", "50968 Köln")]
FR = [("rue de la Paix", "75002 Paris"), ("avenue Victor Hugo", "69002 Lyon"), ("boulevard Longchamp", "13001 Marseille")]
OTHER = ["Calle Mayor {n}, 28013 Madrid", "Via Roma {n}, 00184 Roma", "Keizersgracht {n}, 1015 CJ Amsterdam",
         "Rua Augusta {n}, 1100-053 Lisboa"]


def person(r: random.Random) -> str:
    f, la = r.choice(FIRST), r.choice(LAST)
    k = r.random()
    if k < 0.4:
        return f"{f} {la}"
    if k < 0.55:
        return f"{f} {la}".lower()
    if k < 0.7:
        return f"{r.choice(TITLES)} {la}"
    if k < 0.85:
        return f"{f} {r.choice('ABCDEJKLMRS')}. {la}"
    return f"{la}, {f}"


def address(r: random.Random) -> str:
    k = r.random()
    n = r.randint(1, 9999)
    if k < 0.4:
        city, state, zip3 = r.choice(US_CITIES)
        unit = r.choice(["", "", f" Apt {r.randint(1, 40)}{r.choice('AB')}", f", Suite {r.randint(100, 900)}"])
        return f"{n} {r.choice(US_STREETS)} {r.choice(US_SUFFIX)}{unit}, {city}, {state} {zip3}{r.randint(10, 99)}"
    if k < 0.5:
        city, state, zip3 = r.choice(US_CITIES)
        return f"{n} {r.choice(US_STREETS).lower()} {r.choice(['st', 'ave', 'rd'])} {city.lower()}"
    if k < 0.65:
        street, city, pc = r.choice(UK)
        return f"{r.choice([str(r.randint(1, 300)), f'{r.randint(1, 300)}B', f'Flat {r.randint(1, 9)}, {r.randint(1, 99)}'])} {street}, {city} {pc}"
    if k < 0.8:
        street, city = r.choice(DE)
        return f"{street} {r.randint(1, 120)}{r.choice(['', '', 'a'])}, {city}"
    if k < 0.9:
        street, city = r.choice(FR)
        return f"{r.randint(1, 120)} {street}, {city}"
    return r.choice(OTHER).format(n=r.randint(1, 200))


NAME_TEMPLATES = ["My name is {}.", "Hi, this is {} from the billing team.", "Please forward this to {}.",
                  "{} called yesterday about the refund.", "Thanks,\n{}", "can you ask {} about it?",
                  "The account belongs to {}, not me.", "cc {} on the reply please"]
ADDRESS_TEMPLATES = ["Ship it to {}.", "My address is {}", "I moved to {} last month.", "Deliver to: {}",
                     "The package was left at {} by mistake.", "billing address: {}\nthanks"]
DECOYS = [
    "Apple released iOS 18 in September and it broke my Bluetooth.",
    "The Golden Gate Bridge is in San Francisco, California.",
    "We use Python, Django and PostgreSQL 16 at work.",
    "Microsoft Teams crashed again on Monday morning.",
    "Call the Help Desk at extension 42 if the VPN fails.",
    "Read chapter 12 of War and Peace before Friday.",
    "Turn left on Main Street after the bridge.",
    "Room 101 is on the 3rd floor of Building 7.",
    "The Lord of the Rings has 3 volumes and 1178 pages.",
    "Order 5512 ships from our Berlin warehouse in 2 days.",
    "New York and Los Angeles have the most users.",
    "Amazon Web Services had an outage in US East 1.",
    "I watched Harry Potter and the Chamber of Secrets again.",
    "Use Visual Studio Code with the Black formatter.",
    "The Eiffel Tower is 330 metres tall.",
    "Model 3 and Model Y are both on sale until March 31.",
]


def build(seed: int = SEED) -> list[dict]:
    r = random.Random(seed)
    rows = []
    for type_, gen, templates in (("PERSON", person, NAME_TEMPLATES), ("ADDRESS", address, ADDRESS_TEMPLATES)):
        for _ in range(N_PER_TYPE):
            value = gen(r)
            text = r.choice(templates).format(value)
            start = text.index(value)
            rows.append({"text": text, "spans": [{"type": type_, "start": start, "end": start + len(value), "value": value}]})
    for _ in range(N_DECOY):
        rows.append({"text": r.choice(DECOYS), "spans": []})
    r.shuffle(rows)
    return rows


if __name__ == "__main__":
    out = Path(__file__).with_name("names_addresses.jsonl")
    with out.open("w", encoding="utf-8") as fh:
        for row in build():
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
