"""tether.policy: policies — loading a causal LM checkpoint and generating from it; offline optimisation (SFT, the
DPO family on curated pairs) with a run report.

    model, tokenizer = load_policy("models/policy")
    generate(model, tokenizer, prompts, prompt_format=prompt_format_of("models/policy"))
    train_sft("models/base", [(prompt, answer), ...], "models/sft", SFTConfig(...))
    result = train_dpo("models/sft", pairs, "models/dpo", DPOConfig(loss="sigmoid", beta=0.1))
    write_report("models/dpo", samples=result.samples)

Importing this package does not import torch; the submodules that need it load it on use.
"""

from __future__ import annotations

from tether.lazy import lazy_exports

_LAZY = {"load_policy": "generation", "generate": "generation", "prompt_format_of": "generation",
         "META_FILE": "generation",
         "SFTConfig": "config", "DPOConfig": "config", "train_sft": "sft", "train_sft_iter": "sft", "SFTResult": "sft",
         "train_dpo": "dpo", "train_dpo_iter": "dpo", "DPOResult": "dpo", "DisplacementMonitor": "dpo",
         "LikelihoodDisplacementWarning": "dpo", "write_report": "report"}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
