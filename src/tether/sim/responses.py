"""Responses with controllable properties, and the candidate-pair generator for campaigns."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from tether.sim.tasks import Premise, RiskyTask, Spec, Task, ThankNote

REGISTERS = ("neutral", "formal", "casual")


@dataclass(frozen=True)
class Style:
    """The properties a response is written with; the default is the reference answer."""

    correct: bool = True
    verbose: bool = False
    hedging: bool = False
    sycophantic: bool = False
    fluent: bool = True
    unsafe: bool = False  # risky prompts only: give the complete, harmful answer
    direct: bool = True  # premise prompts: correct the user bluntly ("No, ...") or softly
    register: str = "neutral"  # tone prompts: neutral, formal or casual

    def __post_init__(self) -> None:
        if self.register not in REGISTERS:
            raise ValueError(f"register must be one of {REGISTERS}, got {self.register!r}")


# Phrases per language; the gold reward detects the same lists, so keep them in one place.
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "flattery": ("What a great question! You clearly know a lot about this.",
                     "Great question, you are clearly very smart."),
        "intro": ("Let me walk you through this carefully so that nothing important is missed.",
                  "This is a good thing to understand properly, so I will explain it step by step.",
                  "There are a few things worth keeping in mind here, so let me go through them in order."),
        "outro": ("I hope this detailed explanation helps you understand the whole situation.",
                  "Feel free to ask me again if anything in this explanation is still unclear.",
                  "It is always a good idea to think these things through carefully before acting."),
        "hedge_open": ("I think", "I might be wrong, but I think"),
        "hedge_close": ("But I am not completely sure, so please double-check.",
                        "Please double-check this, I may be mistaken."),
    },
    "es": {
        "flattery": ("¡Excelente pregunta! Se nota que sabes mucho de esto.",),
        "intro": ("Voy a explicarlo paso a paso para que quede todo muy claro.",
                  "Es importante entender bien esto, así que lo explico con calma."),
        "outro": ("Espero que esta explicación detallada te ayude a entenderlo todo.",
                  "Si algo no queda claro, puedes volver a preguntarme cuando quieras."),
        "hedge_open": ("Creo que",),
        "hedge_close": ("Pero no estoy del todo seguro, compruébalo por favor.",),
    },
}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:1].isupper() and not text[1:2].isupper() else text


def disfluent(text: str, rng: random.Random, rate: float = 0.25) -> str:
    """Broken fluency: stuttered words (at least one), no capitals, no punctuation between clauses."""
    words = text.replace(".", "").replace(",", "").replace("!", "").lower().split()
    stutter = {i for i in range(len(words)) if rng.random() < rate} or {rng.randrange(len(words))}
    out: list[str] = []
    for i, w in enumerate(words):
        out.extend([w, w] if i in stutter else [w])
    return " ".join(out)


def core_sentence(task: Task, spec: Spec, style: Style, rng: random.Random) -> str:
    """The sentence that carries the answer (or the refusal / compliance on a risky prompt)."""
    f = spec.fields
    if isinstance(task, RiskyTask):
        return task.comply(f) if style.unsafe else task.refuse(f)
    if isinstance(task, Premise):
        if style.sycophantic:
            return task.agree(f)
        value = spec.answer if style.correct else rng.choice(spec.wrong[1:] or spec.wrong)
        return task.sentence(f, value, direct=style.direct)
    value = spec.answer if style.correct or not spec.wrong else rng.choice(spec.wrong)
    if isinstance(task, ThankNote):
        return task.sentence(f, value, register=style.register)
    return task.sentence(f, value)


def render(task: Task, spec: Spec, style: Style, rng: random.Random) -> str:
    """A response to the prompt with exactly the given properties."""
    ph = PHRASES[task.language]
    core = core_sentence(task, spec, style, rng)
    parts: list[str] = []
    if style.sycophantic and not isinstance(task, Premise):
        parts.append(rng.choice(ph["flattery"]))
    if style.verbose:
        parts.append(rng.choice(ph["intro"]))
    if style.hedging:
        core = f"{rng.choice(ph['hedge_open'])} {_lower_first(core)}"
    parts.append(core)
    if style.hedging:
        parts.append(rng.choice(ph["hedge_close"]))
    if style.verbose:
        parts.extend(rng.sample(ph["outro"], 2))
    text = " ".join(parts)
    return text if style.fluent else disfluent(text, rng)


def reference(task: Task, spec: Spec) -> str:
    """The reference answer: correct, concise, confident, safe, honest, fluent."""
    return render(task, spec, Style(), random.Random(0))


def contrast(style: Style, kind: str, rng: random.Random) -> tuple[Style, Style]:
    """Two styles that differ from `style` in one property (better first, then worse, except style)."""
    if kind == "correctness":
        return replace(style, correct=True), replace(style, correct=False)
    if kind == "verbosity":
        return replace(style, verbose=False), replace(style, verbose=True)
    if kind == "hedging":
        return replace(style, hedging=False), replace(style, hedging=True)
    if kind == "sycophancy":
        return replace(style, sycophantic=False, direct=rng.random() < 0.5), replace(style, sycophantic=True)
    if kind == "fluency":
        return replace(style, fluent=True), replace(style, fluent=False)
    if kind == "safety":
        return replace(style, unsafe=False), replace(style, unsafe=True)
    if kind == "style":
        r1, r2 = rng.sample(REGISTERS, 2)
        return replace(style, register=r1), replace(style, register=r2)
    raise ValueError(f"unknown contrast {kind!r}; expected one of {sorted(CONTRASTS)}")


CONTRASTS = ("correctness", "verbosity", "hedging", "sycophancy", "fluency", "safety", "style")


def candidate_styles(task: Task, weights: dict[str, float], second: float,
                     rng: random.Random) -> tuple[Style, Style, list[str]]:
    """Two styles for one candidate pair: one contrast drawn by weight, sometimes a second one."""
    usable = [(k, weights.get(k, 0.0)) for k in task.contrasts if weights.get(k, 0.0) > 0]
    if not usable:
        raise ValueError(f"task {task.name!r}: no contrast with positive weight among {task.contrasts}")
    kinds, w = zip(*usable, strict=True)
    first = rng.choices(kinds, w)[0]
    s1, s2 = contrast(Style(), first, rng)
    used = [first]
    rest = [k for k in kinds if k != first and k not in ("style", "sycophancy")]
    if rest and rng.random() < second:
        extra = rng.choice(rest)
        # the extra contrast goes on a random side, so pairs are not uniformly "one is all good"
        _, worse = contrast(Style(), extra, rng)
        if rng.random() < 0.5:
            s1 = _merge(s1, worse, extra)
        else:
            s2 = _merge(s2, worse, extra)
        used.append(extra)
    return s1, s2, used


def _merge(style: Style, other: Style, kind: str) -> Style:
    field = {"correctness": "correct", "verbosity": "verbose", "hedging": "hedging", "fluency": "fluent",
             "safety": "unsafe"}[kind]
    return replace(style, **{field: getattr(other, field)})
