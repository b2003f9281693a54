"""Language of a prompt: the file's own label when it has one, else py3langid (model bundled, no download)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def base_language(tag: str) -> str:
    """`pt-BR` -> `pt`, `uk-UA` -> `uk`: coverage is compared per language, not per region."""
    return tag.split("-")[0].split("_")[0].lower()


def detect(texts: Sequence[str]) -> list[str]:
    """ISO 639-1 codes by py3langid; 'und' for empty text."""
    try:
        import py3langid
    except ImportError as exc:
        raise RuntimeError("language detection needs py3langid (pip install py3langid), "
                           "or give each prompt a `lang` in the input file") from exc
    return [py3langid.classify(t)[0] if t.strip() else "und" for t in texts]


def languages(texts: Sequence[str], given: Sequence[str | None]) -> list[str]:
    """The given label where present, detected otherwise."""
    missing = [i for i, g in enumerate(given) if not g]
    found = detect([texts[i] for i in missing]) if missing else []
    out = [base_language(g) if g else "" for g in given]
    for i, lang in zip(missing, found, strict=True):
        out[i] = lang
    return out


def language_coverage(annotation: Sequence[str], production: Sequence[str]) -> list[dict[str, float | str | int]]:
    """Per language: counts and shares in each set, sorted by production share (largest first)."""
    a, p = Counter(annotation), Counter(production)
    na, np_ = max(1, len(annotation)), max(1, len(production))
    rows = [{"language": lang, "annotation": a[lang], "production": p[lang], "annotation_share": a[lang] / na,
             "production_share": p[lang] / np_} for lang in set(a) | set(p)]
    return sorted(rows, key=lambda r: (-float(r["production_share"]), str(r["language"])))
