"""A campaign mixing pairwise dialogue items and Likert (rating) items, for the web, CLI and browser tests."""

from __future__ import annotations

from tether.collect.campaign import CampaignItem, CampaignSettings, create_campaign

# a rubric in Markdown with a script tag a careless renderer would run
RUBRIC = """# How to judge

Read the **whole conversation** first, then the reply.

- *Helpful*: answers what the user asked.
- *Harmless*: nothing dangerous.

<script>document.title = "pwned"</script>
"""
OBJECTIVES = ["helpfulness", "harmlessness"]
SCALE_LABELS = ["awful", "poor", "fair", "good", "great"]


def dialogue(i: int) -> str:
    return (f"\n\nHuman: I need help planning trip {i}.\n\nAssistant: Sure, where to?"
            f"\n\nHuman: Somewhere warm for trip {i}.\n\nAssistant:")


def mixed_items(n_pairs: int = 2, n_ratings: int = 2) -> list[CampaignItem]:
    """Pairwise multi-turn items (task type `dialogue`) and Likert items (task type `likert`, 1..5)."""
    pairs = [CampaignItem(prompt=dialogue(i), response_a=f" Try the coast {i}.", response_b=f" Stay home {i}.",
                          task_type="dialogue") for i in range(n_pairs)]
    ratings = [CampaignItem(prompt=dialogue(100 + i), task="rating", response=f" Lisbon is warm in May ({i}).",
                            scale=(1, 5), scale_labels=SCALE_LABELS, task_type="likert") for i in range(n_ratings)]
    return pairs + ratings


def create_mixed_campaign(store, name: str = "mix", **settings) -> None:  # noqa: ANN001
    settings = {"overlap": 2, "pilot_items": 0, "objectives": OBJECTIVES, "gold_rate": 0.0, "attention_rate": 0.0,
                "queue_size": 4, **settings}
    create_campaign(store, CampaignSettings(name=name, **settings),
                    mixed_items(settings.pop("n_pairs", 2), settings.pop("n_ratings", 2)), RUBRIC)
