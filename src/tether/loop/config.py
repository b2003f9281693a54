"""Loop settings, defined once: `tether.toml`'s `[loop]` keys and the `tether loop tick` options derive from them."""

from __future__ import annotations

from dataclasses import dataclass

from tether.config import setting


@dataclass
class LoopConfig:
    """What the loop watches and what it runs when something is due (one role: its reward model)."""

    role: str = setting("reward", "the role whose champion the loop challenges (tether models champion)")
    cadence_days: float = setting(7.0, "retrain at least this often: a champion older than this is due")
    window_days: float = setting(7.0, "production window the triggers compare with the one before it")
    drift_alpha: float = setting(0.01, "drift trigger: production prompts differ from the champion's training "
                                       "prompts at this level")
    negative_feedback_rise: float = setting(0.05, "feedback trigger: the share of generations with negative "
                                                  "feedback rose by this much over the previous window")
    outcome_auc_drop: float = setting(0.05, "outcome trigger: the champion's AUC against outcomes fell this much")
    confidence_drop: float = setting(0.2, "confidence trigger: the policy's mean token log-probability (logged as "
                                          "gen_ai.response.mean_logprob) fell this much, in nats")
    min_window: int = setting(20, "a trigger needs at least this many generations (outcomes) per window")
    batch_prompts: int = setting(50, "production prompts sampled into each annotation batch")
    policy: str | None = setting(None, "policy folder that writes the two candidate answers of each sampled prompt")
    rubric: str | None = setting(None, "rubric file of the batch campaigns")
    raters: list[str] = setting([], "raters enrolled in each batch (repeat)")
    overlap: int = setting(3, "raters per pair in a batch")
    objectives: list[str] = setting(["overall"], "objectives judged in a batch (repeat)")
    heldout_fraction: float = setting(0.3, "share of a batch's prompts kept out of training to judge the challenger")
    train_batches: int = setting(0, "retrain on the curated pairs of this many latest loop batches (the new one "
                                    "included) instead of the champion's pairs plus the new batch; 0 keeps them all "
                                    "(under drifting preferences old labels contradict new ones)")
    backbone: str = setting("minilm", "backbone of the retrained reward model")
    train_steps: int = setting(200, "optimizer steps of each retraining")
    max_length: int = setting(256, "tokens per prompt + response in retraining")
    lock_hours: float = setting(6.0, "a tick's lock older than this is taken over (its tick died)")
    seed: int = setting(0, "seed of sampling, splits and training")
