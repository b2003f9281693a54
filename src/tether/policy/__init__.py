"""tether.policy: policies — loading a causal LM checkpoint and generating from it; offline optimisation (SFT, the
DPO family on curated pairs) and online RL (GRPO / RLOO / PPO against any evaluator), each with a run report.

    model, tokenizer = load_policy("models/policy")
    generate(model, tokenizer, prompts, prompt_format=prompt_format_of("models/policy"))
    train_sft("models/base", [(prompt, answer), ...], "models/sft", SFTConfig(...))
    result = train_dpo("models/sft", pairs, "models/dpo", DPOConfig(loss="sigmoid", beta=0.1))
    write_report("models/dpo", samples=result.samples)
    train_rl("models/sft", prompts, load_evaluator("models/rm"), "models/rl", RLConfig(algorithm="grpo"))
    train_rl(..., RLConfig(monitor_every=10), heldout=load_evaluator("models/rm-b"), heldout_prompts=held)  # guarded

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
         "kl_controller": "rl", "write_rl_report": "rl_report",
         # guards: the over-optimisation monitor, the Gao fit, hacking signatures, the TRL callback
         "Guard": "rl_guard", "OverOptMonitor": "monitor", "SequentialAlarm": "monitor", "BestWeights": "monitor",
         "fit_gao": "gao_fit", "GaoFit": "gao_fit", "signatures": "signatures", "SignatureBaseline": "signatures",
         "GuardCallback": "trl_callback",
         # offline: SFT and the DPO family
         "SFTConfig": "config", "DPOConfig": "config", "train_sft": "sft", "train_sft_iter": "sft", "SFTResult": "sft",
         "train_dpo": "dpo", "train_dpo_iter": "dpo", "DPOResult": "dpo", "DisplacementMonitor": "dpo",
         "LikelihoodDisplacementWarning": "dpo", "write_report": "report"}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
