"""World prompts: seeded draws from the task templates, carrying their facts in the text."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tether.records import Prompt
from tether.sim.responses import Style, reference, render
from tether.sim.tasks import TASKS, Spec, Task


@dataclass(frozen=True)
class SimPrompt:
    """A prompt of the world: its text plus the labels the world knows about it."""

    text: str
    task: str
    domain: str
    task_type: str
    language: str
    risky: bool

    @property
    def task_obj(self) -> Task:
        return TASKS[self.task]

    @property
    def spec(self) -> Spec:
        parsed = self.task_obj.parse(self.text)
        if parsed is None:
            raise ValueError(f"prompt text does not match task {self.task!r}: {self.text[:80]!r}")
        return parsed

    @property
    def reference(self) -> str:
        """The reference answer (correct, concise, confident, safe, honest, fluent)."""
        return reference(self.task_obj, self.spec)

    def respond(self, style: Style, rng: random.Random) -> str:
        """A response with the given properties."""
        return render(self.task_obj, self.spec, style, rng)

    def to_record(self) -> Prompt:
        return Prompt(text=self.text, domain=self.domain, task_type=self.task_type, language=self.language)


def make_prompt(task: Task, rng: random.Random) -> SimPrompt:
    """One prompt of the given task type with freshly drawn facts."""
    text = task.prompt_text(task.sample(rng))
    return SimPrompt(text, task.name, task.domain, task.label, task.language, task.risky)


def draw_tasks(weights: dict[str, float], n: int, rng: random.Random) -> list[Task]:
    """`n` task types drawn by relative weight; unknown names are an error naming the key."""
    unknown = sorted(set(weights) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown task type(s) {unknown}; known: {sorted(TASKS)}")
    names = [k for k, w in weights.items() if w > 0]
    if not names:
        raise ValueError("task weights: at least one task type needs a positive weight")
    return [TASKS[k] for k in rng.choices(names, [weights[k] for k in names], k=n)]
