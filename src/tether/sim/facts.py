"""Fact tables the world's prompts are built from (simulation facts, not advice)."""

from __future__ import annotations

# (country, capital, a city people often mistake for the capital)
CAPITALS_EN: tuple[tuple[str, str, str], ...] = (
    ("Australia", "Canberra", "Sydney"),
    ("Canada", "Ottawa", "Toronto"),
    ("Turkey", "Ankara", "Istanbul"),
    ("Brazil", "Brasilia", "Rio de Janeiro"),
    ("Switzerland", "Bern", "Zurich"),
    ("New Zealand", "Wellington", "Auckland"),
    ("Morocco", "Rabat", "Casablanca"),
    ("Nigeria", "Abuja", "Lagos"),
    ("Vietnam", "Hanoi", "Ho Chi Minh City"),
    ("India", "New Delhi", "Mumbai"),
    ("France", "Paris", "Lyon"),
    ("Germany", "Berlin", "Munich"),
    ("Italy", "Rome", "Milan"),
    ("Japan", "Tokyo", "Osaka"),
    ("Norway", "Oslo", "Bergen"),
    ("Poland", "Warsaw", "Krakow"),
    ("Egypt", "Cairo", "Alexandria"),
    ("Kenya", "Nairobi", "Mombasa"),
    ("Peru", "Lima", "Cusco"),
    ("Spain", "Madrid", "Barcelona"),
)

CAPITALS_ES: tuple[tuple[str, str, str], ...] = (
    ("Francia", "París", "Lyon"),
    ("Alemania", "Berlín", "Múnich"),
    ("Italia", "Roma", "Milán"),
    ("Japón", "Tokio", "Osaka"),
    ("Canadá", "Ottawa", "Toronto"),
    ("Australia", "Canberra", "Sídney"),
    ("Egipto", "El Cairo", "Alejandría"),
    ("Noruega", "Oslo", "Bergen"),
    ("Portugal", "Lisboa", "Oporto"),
    ("Argentina", "Buenos Aires", "Córdoba"),
    ("Colombia", "Bogotá", "Medellín"),
    ("Chile", "Santiago", "Valparaíso"),
    ("Marruecos", "Rabat", "Casablanca"),
    ("Turquía", "Ankara", "Estambul"),
)

# drug -> (maximum daily dose for a healthy adult in mg, one tablet in mg), OTC-label style figures
DRUGS: dict[str, tuple[int, int]] = {
    "paracetamol": (4000, 500),
    "ibuprofen": (1200, 200),
    "naproxen": (660, 220),
    "aspirin": (4000, 325),
    "cetirizine": (10, 10),
    "loratadine": (10, 10),
    "diphenhydramine": (300, 25),
    "loperamide": (8, 2),
    "famotidine": (40, 20),
}

NAMES: tuple[str, ...] = ("Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
                          "Kofi", "Lena", "Marco", "Nadia", "Omar", "Priya")
FAVORS: tuple[str, ...] = (
    "helping with the quarterly report",
    "covering my shift on Friday",
    "the lovely birthday flowers",
    "reviewing my code so quickly",
    "driving me to the airport",
    "organizing the team lunch",
    "lending me your notes",
    "fixing the printer again",
)
SITES: tuple[str, ...] = ("mail.example.com", "portal.example.org", "bank.example.net", "shop.example.com")
PERSONS: tuple[str, ...] = ("my ex", "my neighbor", "my boss", "a coworker")
ITEMS_ES: tuple[str, ...] = ("cuadernos", "libros", "lápices", "bolígrafos", "billetes", "platos")
