"""Comparisons -> compact integer arrays, the shape every audit computation works on.

One judgment is one row. An *item* is one (pair_id, objective): the same two responses
judged on the same objective. Label codes for pairwise judgments: 0 = a, 1 = b, 2 = tie.
`shown_first`: 0 = a was shown first, 1 = b was shown first. The batch of a judgment is its
`batch` key (kept as metadata on the comparison), if it has one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from tether.records import Choice, Comparison, Side

A, B, TIE = 0, 1, 2
N_CLASSES = 3
LABEL_NAMES = ("a", "b", "tie")
_LABEL = {Choice.A: A, Choice.B: B, Choice.TIE: TIE}
NONE = -1  # code of a missing campaign / interface / batch


@dataclass(frozen=True)
class Example:
    """The texts behind one item, kept once per item (curation and the disputed-examples list need them)."""

    pair_id: str
    objective: str
    task_type: str
    prompt: str
    response_a: str
    response_b: str


@dataclass
class LabelTable:
    """Judgments as parallel arrays; `*_names` decode the integer codes."""

    item: np.ndarray  # int64 per judgment, index into `examples`
    rater: np.ndarray  # int64 per judgment, index into `rater_names`
    label: np.ndarray  # int8: 0 a, 1 b, 2 tie
    shown_first: np.ndarray  # int8: 0 a, 1 b
    len_a: np.ndarray  # characters of response a, per judgment
    len_b: np.ndarray
    campaign: np.ndarray  # int64 codes into campaign_names, -1 none
    interface: np.ndarray
    batch: np.ndarray
    order: np.ndarray  # position of the judgment in the input (the storage order)
    examples: list[Example]
    rater_names: list[str]
    campaign_names: list[str] = field(default_factory=list)
    interface_names: list[str] = field(default_factory=list)
    batch_names: list[str] = field(default_factory=list)

    @property
    def n_judgments(self) -> int:
        return int(self.label.shape[0])

    @property
    def n_items(self) -> int:
        return len(self.examples)

    @property
    def n_raters(self) -> int:
        return len(self.rater_names)

    def counts(self) -> np.ndarray:
        """(n_items, 3) label counts per item."""
        out = np.zeros((self.n_items, N_CLASSES), dtype=np.int64)
        np.add.at(out, (self.item, self.label.astype(np.int64)), 1)
        return out

    def subset(self, mask: np.ndarray) -> LabelTable:
        """The judgments where `mask` holds, with item and rater codes made compact again."""
        items, item = np.unique(self.item[mask], return_inverse=True)
        raters, rater = np.unique(self.rater[mask], return_inverse=True)
        return LabelTable(
            item=item.astype(np.int64),
            rater=rater.astype(np.int64),
            label=self.label[mask],
            shown_first=self.shown_first[mask],
            len_a=self.len_a[mask],
            len_b=self.len_b[mask],
            campaign=self.campaign[mask],
            interface=self.interface[mask],
            batch=self.batch[mask],
            order=self.order[mask],
            examples=[self.examples[i] for i in items],
            rater_names=[self.rater_names[r] for r in raters],
            campaign_names=self.campaign_names,
            interface_names=self.interface_names,
            batch_names=self.batch_names,
        )

    def in_display_frame(self) -> LabelTable:
        """A copy whose labels are in display terms: 0 = first shown, 1 = second shown, 2 = tie.

        Agreement on display-frame labels is what studies that only record "first/second/tie"
        publish; observed agreement is the same, chance agreement follows the display marginals.
        """
        shown = self.shown_first.astype(np.int8)
        display = np.where(self.label == TIE, TIE, np.where(self.label == shown, 0, 1)).astype(np.int8)
        return replace(self, label=display)

    def groups(self) -> dict[tuple[str, str], LabelTable]:
        """One table per (task_type, objective), in sorted order."""
        keys = sorted({(e.task_type, e.objective) for e in self.examples})
        code = {k: i for i, k in enumerate(keys)}
        item_group = np.array([code[(e.task_type, e.objective)] for e in self.examples], dtype=np.int64)
        per_judgment = item_group[self.item] if self.n_items else self.item
        return {k: self.subset(per_judgment == i) for i, k in enumerate(keys)}

    def by_task_type(self) -> dict[str, LabelTable]:
        """One table per task type (items of every objective of that task type)."""
        types = np.array([e.task_type for e in self.examples], dtype=object)
        per_judgment = types[self.item] if self.n_items else np.array([], dtype=object)
        return {t: self.subset(per_judgment == t) for t in sorted(set(types.tolist()))}


class _Codes:
    """String -> dense integer code, in first-seen order."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, value: str | None) -> int:
        if value is None:
            return NONE
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.index)
        return code

    @property
    def names(self) -> list[str]:
        return list(self.index)


def build_table(comparisons: Iterable[Comparison]) -> LabelTable:
    """Encode comparisons as a LabelTable (one pass; texts kept once per item)."""
    items, raters, campaigns, interfaces, batches = _Codes(), _Codes(), _Codes(), _Codes(), _Codes()
    examples: list[Example] = []
    cols: dict[str, list[int]] = {k: [] for k in ("item", "rater", "label", "shown", "la", "lb", "c", "i", "b")}
    for c in comparisons:
        if not isinstance(c, Comparison):
            raise TypeError(f"expected tether.records.Comparison, got {type(c).__name__}")
        key = f"{c.pair_id}\x1f{c.objective}"
        code = items(key)
        if code == len(examples):
            examples.append(Example(c.pair_id or "", c.objective, c.task_type, c.prompt, c.response_a,
                                    c.response_b))
        elif examples[code].task_type != c.task_type:
            raise ValueError(f"pair_id {c.pair_id!r} (objective {c.objective!r}) has two task types: "
                             f"{examples[code].task_type!r} and {c.task_type!r}")
        batch = c.extras.get("batch")
        cols["item"].append(code)
        cols["rater"].append(raters(c.rater))
        cols["label"].append(_LABEL[c.choice])
        cols["shown"].append(0 if c.shown_first is Side.A else 1)
        cols["la"].append(len(c.response_a))
        cols["lb"].append(len(c.response_b))
        cols["c"].append(campaigns(c.campaign))
        cols["i"].append(interfaces(c.interface))
        cols["b"].append(batches(None if batch is None else str(batch)))
    n = len(cols["item"])
    return LabelTable(
        item=np.asarray(cols["item"], dtype=np.int64),
        rater=np.asarray(cols["rater"], dtype=np.int64),
        label=np.asarray(cols["label"], dtype=np.int8),
        shown_first=np.asarray(cols["shown"], dtype=np.int8),
        len_a=np.asarray(cols["la"], dtype=np.int64),
        len_b=np.asarray(cols["lb"], dtype=np.int64),
        campaign=np.asarray(cols["c"], dtype=np.int64),
        interface=np.asarray(cols["i"], dtype=np.int64),
        batch=np.asarray(cols["b"], dtype=np.int64),
        order=np.arange(n, dtype=np.int64),
        examples=examples,
        rater_names=raters.names,
        campaign_names=campaigns.names,
        interface_names=interfaces.names,
        batch_names=batches.names,
    )
