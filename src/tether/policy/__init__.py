"""tether.policy: policies — loading a causal LM checkpoint and generating from it (policy optimisation next).

    model, tokenizer = load_policy("models/policy")
    generate(model, tokenizer, prompts, prompt_format=prompt_format_of("models/policy"))

Importing this package does not import torch; the submodules that need it load it on use.
"""

from __future__ import annotations

from tether.lazy import lazy_exports

_LAZY = {"load_policy": "generation", "generate": "generation", "prompt_format_of": "generation",
         "META_FILE": "generation"}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
