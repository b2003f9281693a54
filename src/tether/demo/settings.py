"""The demo's reward-stage defaults: light to import, so `tether --help` need not load the stages."""

# about two epochs of the ~370 curated sim pairs per member: ~20 s a member on 2 CPU cores (0.4 s a step)
REWARD_STEPS = 48
REWARD_MEMBERS = 2   # bootstrap members: the smallest ensemble that has a disagreement
REWARD_EVAL_PAIRS = 240  # fresh gold-labelled candidate pairs: two thirds test, one third temperature fit
