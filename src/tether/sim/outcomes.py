"""Outcomes in the simulated world: sampled responses to factual prompts, each with whether it worked.

As in production (`tether.sim.production`), an outcome follows gold correctness (a test passes, a task is resolved
iff the stated answer is right), never what raters prefer; so where raters are biased (`TraitDistribution.
confident_wrong`) a reward model trained on their labels and these outcomes disagree, and the outcome audit
(`tether.outcomes.audit_outcomes`) can be checked against the planted slice.
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.outcomes.scored import ScoredResponse
from tether.sim.gold import components
from tether.sim.responses import Style
from tether.sim.world import World

FACTUAL = ("number", "entity", "time", "note")  # the task kinds production reports outcomes for


@dataclass(frozen=True)
class ResponseMix:
    """How sampled responses vary: the chance of each property (independently per response)."""

    wrong: float = 0.5
    verbose: float = 0.3
    hedging: float = 0.2
    disfluent: float = 0.1


def outcome_rows(world: World, prompts: int, per_prompt: int = 4, *, tasks: dict[str, float] | list[str] | None = None,
                 mix: ResponseMix | None = None, stream: str = "outcomes") -> list[ScoredResponse]:
    """`per_prompt` sampled responses to each of `prompts` factual prompts (risky task types are skipped), as
    unscored rows: value 1 when the answer is right by the gold reward, else 0; slices task_type and language;
    one group per prompt. `stream` names the random stream, so held-out sets do not overlap a training set."""
    if prompts < 1 or per_prompt < 1:
        raise ValueError(f"prompts and per_prompt must be >= 1, got {prompts} and {per_prompt}")
    m = mix or ResponseMix()
    weights = tasks if tasks is not None else {k: w for k, w in world.config.prompts.task_weights.items()
                                               if _factual(k)}
    drawn = world.prompts(prompts, tasks=weights, stream=stream)
    if bad := sorted({p.task for p in drawn if p.task_obj.kind not in FACTUAL}):
        raise ValueError(f"task type(s) {bad} have no outcome (risky prompts); give factual task types")
    rng = world.rng(f"{stream}-responses")
    rows: list[ScoredResponse] = []
    for i, p in enumerate(drawn):
        for _ in range(per_prompt):
            style = Style(correct=rng.random() >= m.wrong, verbose=rng.random() < m.verbose,
                          hedging=rng.random() < m.hedging, fluent=rng.random() >= m.disfluent)
            text = p.respond(style, rng)
            correct = components(p.text, text, world.config.gold).correct >= 1.0
            rows.append(ScoredResponse(line=len(rows) + 1, prompt=p.text, response=text, score=None,
                                       value=1.0 if correct else 0.0, group=f"{stream}-{i:06d}", keys=("sim",),
                                       slices={"task_type": p.task_type, "language": p.language}))
    return rows


def _factual(task: str) -> bool:
    from tether.sim.tasks import TASKS

    return TASKS[task].kind in FACTUAL
