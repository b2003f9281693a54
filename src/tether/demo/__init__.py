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

from tether.demo.command import register
from tether.demo.stages import DemoResult, bundled_data_dir, run_demo

__all__ = ["DemoResult", "bundled_data_dir", "register", "run_demo"]
