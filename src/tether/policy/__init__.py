"""tether.policy: policies — loading a causal LM checkpoint and generating from it (policy optimisation next).

    model, tokenizer = load_policy("models/policy")
    generate(model, tokenizer, prompts, prompt_format=prompt_format_of("models/policy"))

Importing this package does not import torch; the submodules that need it load it on use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"load_policy": "generation", "generate": "generation", "prompt_format_of": "generation",
         "META_FILE": "generation"}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"tether.policy.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'tether.policy' has no attribute {name!r}")
