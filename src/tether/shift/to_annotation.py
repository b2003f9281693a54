"""Sampled production prompts -> a campaign batch raters can judge.

A campaign item needs two responses; each sampled prompt gets the policy's greedy answer and a
sampled one (temperature 1), in canonical order a = greedy. A prompt whose two answers are the same
text is skipped (nothing to compare), and reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tether.collect.campaign import CampaignInfo, CampaignItem, CampaignSettings, create_campaign
from tether.records import content_hash
from tether.shift.sampling import Pick
from tether.store import Store

# (prompts) -> (greedy answers, sampled answers)
CandidateFn = Callable[[list[str]], tuple[list[str], list[str]]]


@dataclass
class CampaignBatch:
    """The opened campaign, its items, and the prompts left out because both answers were identical."""

    campaign: CampaignInfo
    items: list[CampaignItem]
    skipped: list[str] = field(default_factory=list)


def policy_candidates(folder: str | Path, max_new_tokens: int = 48, seed: int = 0,
                      prompt_format: str | None = None) -> CandidateFn:
    """Greedy and sampled answers of a local HF causal LM folder (e.g. the `tether.sim` policy), each prompt put in
    `prompt_format` (default: the one the folder's policy was trained on, `tether.policy.prompt_format_of`)."""
    from tether.policy import generate, load_policy, prompt_format_of

    model, tokenizer = load_policy(folder)
    fmt = prompt_format or prompt_format_of(folder)

    def candidates(prompts: list[str]) -> tuple[list[str], list[str]]:
        greedy = generate(model, tokenizer, prompts, prompt_format=fmt, max_new_tokens=max_new_tokens)
        sampled = generate(model, tokenizer, prompts, prompt_format=fmt, max_new_tokens=max_new_tokens,
                           do_sample=True, seed=seed)
        return greedy, sampled

    return candidates


def open_campaign_batch(store: Store, picks: Sequence[Pick], candidates: CandidateFn, settings: CampaignSettings,
                        rubric: str, *, task_type: str = "production") -> CampaignBatch:
    """Create a campaign whose items are the picked production prompts with two candidate answers each."""
    prompts = [p.text for p in picks]
    greedy, sampled = candidates(prompts)
    if len(greedy) != len(prompts) or len(sampled) != len(prompts):
        raise ValueError(f"candidates returned {len(greedy)}/{len(sampled)} answers for {len(prompts)} prompts")
    items, skipped = [], []
    for prompt, a, b in zip(prompts, greedy, sampled, strict=True):
        if a.strip() == b.strip():
            skipped.append(prompt)
            continue
        items.append(CampaignItem(prompt=prompt, response_a=a, response_b=b, task_type=task_type,
                                  pair_id=f"production-{content_hash(prompt, a, b)[:16]}"))
    if not items:
        raise ValueError(f"no item to open: all {len(prompts)} prompts got two identical answers")
    return CampaignBatch(create_campaign(store, settings, items, rubric), items, skipped)
