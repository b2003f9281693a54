"""Policy training data: the prompt format, tokenized examples and pairs, length-bucketed batches, and the packed
tensors the trainers score.

Every text is `prompt_format` with `{prompt}` and `{answer}` filled in: the prompt part up to `{answer}` (less its
trailing whitespace) is tokenized as the prompt, the whitespace and the answer as the answer, then EOS. A too-long
example keeps its answer (up to max_length - 1 tokens) and loses the start of its prompt.

Two layouts of a preference pair (`pack_pairs`): `concat` scores [prompt + chosen] and [prompt + rejected] as two
rows (what TRL does); `shared` puts prompt, chosen and rejected in one row, the rejected tokens placed right after the
prompt (their position ids restart there) and masked from the chosen tokens, so the prompt is computed once per pair.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tether.records import PreferencePair
from tether.training.batches import plan_batches as plan_batches  # re-exported

BUCKET_POOL = 8  # batches per length-sorted pool: small, so a batch stays close to a random draw of content
META_FILE = "tether_policy.json"  # as tether.policy.generation; kept here so the data side needs no torch


@dataclass(frozen=True)
class PromptFormat:
    """`{prompt}` ... `{answer}`: the prompt template, and the whitespace that leads the answer."""

    template: str
    lead: str

    @classmethod
    def parse(cls, fmt: str) -> PromptFormat:
        if "{prompt}" not in fmt:
            raise ValueError(f"prompt format {fmt!r} has no {{prompt}}")
        before = fmt.split("{answer}")[0]
        stripped = before.rstrip()
        return cls(stripped, before[len(stripped):])

    def prompt(self, text: str) -> str:
        return self.template.replace("{prompt}", text)

    def answer(self, text: str) -> str:
        return self.lead + text


def format_of(path: str | Path | None) -> str | None:
    """The full prompt format a Tether-trained checkpoint was trained on (its META_FILE), or None."""
    meta = Path(path) / META_FILE if path is not None else None
    if meta is None or not meta.is_file():
        return None
    return json.loads(meta.read_text(encoding="utf-8")).get("prompt_format")


def ensure_pad_token(tokenizer: Any) -> None:
    """A tokenizer without a pad token pads with EOS (as TRL does), with a warning; padding never reaches a loss."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError("the tokenizer has neither a pad token nor an EOS token; set tokenizer.pad_token")
        warnings.warn(f"tokenizer has no pad token: padding with its EOS token {tokenizer.eos_token!r}",
                      stacklevel=2)
        tokenizer.pad_token = tokenizer.eos_token


def _tokenize(tokenizer: Any, fmt: PromptFormat, prompts: Sequence[str], answers: Sequence[Sequence[str]],
              max_length: int, add_eos: bool) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Prompt ids and the ids of each of its answers, truncated so prompt + longest answer <= max_length."""
    p_ids = tokenizer([fmt.prompt(p) for p in prompts])["input_ids"]
    flat = [fmt.answer(a) for group in answers for a in group]
    a_flat = tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else []
    eos = [tokenizer.eos_token_id] if add_eos and tokenizer.eos_token_id is not None else []
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    out_p, out_a, k = [], [], 0
    for ids, group in zip(p_ids, answers, strict=True):
        a = [(a_flat[k + j] + eos)[: max_length - 1] for j in range(len(group))]
        k += len(group)
        keep = max(1, max_length - max(len(x) for x in a))
        ids = ids[-keep:] if ids else [start]  # an answer's first token is scored from the token before it
        out_p.append(ids)
        out_a.append(a)
    return out_p, out_a


@dataclass
class EncodedExamples:
    """SFT examples: prompt ids and answer ids."""

    prompt: list[list[int]]
    answer: list[list[int]]

    def __len__(self) -> int:
        return len(self.prompt)

    def lengths(self) -> np.ndarray:
        return np.array([len(p) + len(a) for p, a in zip(self.prompt, self.answer, strict=True)])


def encode_examples(tokenizer: Any, examples: Sequence[tuple[str, str]], prompt_format: str, max_length: int, *,
                    add_eos: bool = True) -> EncodedExamples:
    """(prompt, answer) texts -> token ids for SFT."""
    p, a = _tokenize(tokenizer, PromptFormat.parse(prompt_format), [e[0] for e in examples],
                     [[e[1]] for e in examples], max_length, add_eos)
    return EncodedExamples(p, [x[0] for x in a])


@dataclass
class EncodedPairs:
    """Preference pairs as token ids (prompt once, chosen, rejected) and the label fields the loss reads."""

    prompt: list[list[int]]
    chosen: list[list[int]]
    rejected: list[list[int]]
    weight: np.ndarray
    p_chosen: np.ndarray
    tie: np.ndarray

    def __len__(self) -> int:
        return len(self.prompt)

    def lengths(self, shared: bool) -> np.ndarray:
        """Tokens of each pair's row (shared) or of its longer row (concat): what bucketing sorts by."""
        c = np.array([len(x) for x in self.chosen])
        r = np.array([len(x) for x in self.rejected])
        p = np.array([len(x) for x in self.prompt])
        return p + c + r if shared else p + np.maximum(c, r)

    def fingerprint(self) -> str:
        """Hash of the token ids, in order (what the reference log-probs depend on)."""
        h = hashlib.blake2b(digest_size=16)
        for seqs in (self.prompt, self.chosen, self.rejected):
            for s in seqs:
                h.update(np.asarray(s, dtype=np.int64).tobytes())
                h.update(b"|")
        return h.hexdigest()


def usable_pairs(pairs: Sequence[PreferencePair], objective: str | None) -> tuple[list[PreferencePair], str]:
    """The pairs a run can learn from (its objective, weight > 0, chosen != rejected) and that objective.

    Raises ValueError, before any model is loaded, when there are none or the objective is ambiguous."""
    objectives = sorted({p.objective for p in pairs})
    if not pairs:
        raise ValueError("no preference pairs")
    if objective is None:
        if len(objectives) > 1:
            raise ValueError(f"the pairs have several objectives ({', '.join(objectives)}); choose one with "
                             "--objective")
        objective = objectives[0]
    elif objective not in objectives:
        raise ValueError(f"no pairs of objective {objective!r} (the data has {', '.join(objectives)})")
    keep = [p for p in pairs if p.objective == objective and p.weight > 0 and p.chosen != p.rejected]
    if not keep:
        raise ValueError(f"none of the {len(pairs)} pairs is usable for objective {objective!r}: every one has "
                         "weight 0 or identical chosen and rejected responses")
    return keep, objective


def encode_pairs(tokenizer: Any, pairs: Sequence[PreferencePair], prompt_format: str, max_length: int, *,
                 add_eos: bool = True, use_weights: bool = True, use_soft_labels: bool = True) -> EncodedPairs:
    """Tokenize preference pairs; weights are rescaled to mean 1 (they rank pairs, not the learning rate)."""
    p, a = _tokenize(tokenizer, PromptFormat.parse(prompt_format), [x.prompt for x in pairs],
                     [[x.chosen, x.rejected] for x in pairs], max_length, add_eos)
    weight = np.array([x.weight if use_weights else 1.0 for x in pairs], dtype=np.float32)
    weight = weight / weight.mean() if weight.mean() > 0 else weight
    p_chosen = np.array([(x.p_chosen if use_soft_labels and x.p_chosen is not None else 1.0) for x in pairs],
                        dtype=np.float32)
    return EncodedPairs(p, [x[0] for x in a], [x[1] for x in a], weight, p_chosen,
                        np.array([x.tie for x in pairs], dtype=bool))


@dataclass
class Packed:
    """Padded rows for one forward, and which hidden state scores which token of which sequence.

    `source[k]` (a flat index into the rows' hidden states) predicts token `target[k]`, which belongs to sequence
    `segment[k]` of `n_seq`. `attention_mask` is (rows, L) for plain causal rows, or (rows, 1, L, L) booleans."""

    input_ids: Any
    attention_mask: Any
    position_ids: Any
    source: Any
    target: Any
    segment: Any
    n_seq: int
    tokens: int

    def to(self, device: Any) -> Packed:
        move = {k: getattr(self, k).to(device) if getattr(self, k) is not None else None
                for k in ("input_ids", "attention_mask", "position_ids", "source", "target", "segment")}
        return Packed(**move, n_seq=self.n_seq, tokens=self.tokens)


def pack_sequences(prompts: Sequence[list[int]], answers: Sequence[list[int]], pad_id: int) -> Packed:
    """One right-padded row per prompt + answer; sequence i is row i's answer."""
    import torch

    rows = [p + a for p, a in zip(prompts, answers, strict=True)]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    src, tgt, seg = [], [], []
    for i, (p, a) in enumerate(zip(prompts, answers, strict=True)):
        ids[i, : len(p) + len(a)] = torch.tensor(p + a, dtype=torch.long)
        mask[i, : len(p) + len(a)] = 1
        base = i * width + len(p) - 1
        src += range(base, base + len(a))
        tgt += a
        seg += [i] * len(a)
    return Packed(ids, mask, None, torch.tensor(src), torch.tensor(tgt), torch.tensor(seg), len(rows),
                  int(mask.sum()))


def pack_shared(prompts: Sequence[list[int]], chosen: Sequence[list[int]], rejected: Sequence[list[int]],
                pad_id: int) -> Packed:
    """One row per pair: prompt, chosen, rejected; sequence i is pair i's chosen, n + i its rejected answer."""
    import torch

    n = len(prompts)
    width = max(len(p) + len(c) + len(r) for p, c, r in zip(prompts, chosen, rejected, strict=True))
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    pos = torch.zeros((n, width), dtype=torch.long)
    q = torch.arange(width)
    allowed = (q[:, None] >= q[None, :]).repeat(n, 1, 1)  # causal
    src, tgt, seg = [], [], []
    for i, (p, c, r) in enumerate(zip(prompts, chosen, rejected, strict=True)):
        lp, lc, lr = len(p), len(c), len(r)
        end = lp + lc + lr
        ids[i, :end] = torch.tensor(p + c + r, dtype=torch.long)
        pos[i, :end] = torch.cat([torch.arange(lp + lc), torch.arange(lp, lp + lr)])
        allowed[i, :, end:] = False  # padding is never attended to ...
        allowed[i, lp + lc:end, lp:lp + lc] = False  # ... nor the chosen answer by the rejected one
        base = i * width
        src += range(base + lp - 1, base + lp + lc - 1)
        src += [base + lp - 1, *range(base + lp + lc, base + end - 1)]  # rejected continues from the prompt
        tgt += c + r
        seg += [i] * lc + [n + i] * lr
    allowed |= torch.eye(width, dtype=torch.bool)  # padding rows attend to themselves: no all-masked softmax (NaN)
    real = sum(len(p) + len(c) + len(r) for p, c, r in zip(prompts, chosen, rejected, strict=True))
    return Packed(ids, allowed.unsqueeze(1), pos, torch.tensor(src), torch.tensor(tgt), torch.tensor(seg), 2 * n,
                  real)


def pack_pairs(data: EncodedPairs, idx: Sequence[int], pad_id: int, shared: bool) -> Packed:
    """The pairs `idx` in one forward's rows; sequences 0..n-1 are the chosen answers, n..2n-1 the rejected."""
    prompts = [data.prompt[i] for i in idx]
    chosen = [data.chosen[i] for i in idx]
    rejected = [data.rejected[i] for i in idx]
    if shared:
        return pack_shared(prompts, chosen, rejected, pad_id)
    return pack_sequences(prompts + prompts, chosen + rejected, pad_id)


def read_prompt_completions(path: str | Path) -> list[tuple[str, str]]:
    """(prompt, completion) of each line of a JSONL file in TRL's prompt-completion format (plain text);
    a bad line raises with file, line and key."""
    from tether.io.errors import BadLine, InputError
    from tether.io.jsonl import iter_jsonl

    path = Path(path)
    out = []
    for lineno, obj, raw in iter_jsonl(path):
        if isinstance(obj, BadLine):
            raise InputError(obj)
        for key in ("prompt", "completion"):
            if not isinstance(obj.get(key), str):
                got = "missing" if key not in obj else f"a {type(obj[key]).__name__}"
                raise InputError(BadLine(str(path), lineno, key, f"expected text, got {got} (conversational "
                                                                  "messages are not supported)", raw))
        out.append((obj["prompt"], obj["completion"]))
    if not out:
        raise ValueError(f"{path}: no prompt/completion examples")
    return out
