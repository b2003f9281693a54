"""tether.policy: policies — loading a causal LM checkpoint and generating from it (policy optimisation next).

    model, tokenizer = load_policy("models/policy")
    generate(model, tokenizer, prompts, prompt_format=prompt_format_of("models/policy"))

Importing this package does not import torch; the submodules that need it load it on use.
"""

from __future__ import annotations

from tether.lazy import lazy_exports

_LAZY = {"load_policy": "generation", "generate": "generation", "prompt_format_of": "generation",
         "META_FILE": "generation",
         # online RL: rollouts, evaluators, the trainer and its config and report
         "Rollout": "generation", "rollout": "generation", "sample_texts": "generation", "vllm_texts": "generation",
         "Evaluator": "evaluators", "FunctionEvaluator": "evaluators", "RewardModelEvaluator": "evaluators",
         "EnsembleEvaluator": "evaluators", "CombinedEvaluator": "evaluators", "MissingObjective": "evaluators",
         "load_evaluator": "evaluators", "require_objectives": "evaluators", "register_evaluator": "evaluators",
         "named_evaluator": "evaluators", "weighted_reward": "evaluators",
         "RLConfig": "rl_config", "EvalConfig": "rl_config", "train_rl": "rl", "rl_iter": "rl", "RLResult": "rl",
         "kl_controller": "rl", "write_rl_report": "rl_report"}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
