"""The main job: one command that runs Tether's loop on the embedded default.

Stages so far: set up a project, import the bundled real data, audit it (agreement, the 0.4
rule, position bias, rater reliability), curate weighted preference sets, prove the label guard
on the simulated world against its gold truth, train a small reward ensemble on the curated
simulated pairs, audit it on fresh gold-labelled pairs and run the gate the policy stage
requires, then log simulated production traffic (redacted), test it for drift against the
annotation set and sample prompts back into annotation; finally the loop: the reward model challenges
for the serving role, one tick evaluates the triggers and opens the next batch, and the dashboard is
written. Each capability that lands adds its stage.
"""

from typing import Any

from tether.demo.command import register


def __getattr__(name: str) -> Any:
    """The stages on first use: they import the simulated world, scikit-learn and the guards, which every other
    command's start-up would otherwise pay for (the CLI registers `demo` in every process)."""
    if name in ("DemoResult", "bundled_data_dir", "run_demo"):
        from tether.demo import stages

        return getattr(stages, name)
    raise AttributeError(f"module 'tether.demo' has no attribute {name!r}")


__all__ = ["DemoResult", "bundled_data_dir", "register", "run_demo"]
