"""Policy data: prompt formats, truncation that keeps the answer, the shared-prompt layout, the chunked LM head."""

from __future__ import annotations

import pytest
import torch
from dpo_helpers import tiny_policy, toy_pairs

from tether.policy.data import (
    PromptFormat,
    encode_examples,
    encode_pairs,
    pack_pairs,
    pack_sequences,
    plan_batches,
)
from tether.policy.logps import SequenceScorer, TokenLogps


def test_prompt_format_gives_the_answer_its_leading_whitespace() -> None:
    fmt = PromptFormat.parse("{prompt}\nAnswer: {answer}<|endoftext|>")
    assert fmt.prompt("2+2?") == "2+2?\nAnswer:" and fmt.answer("4") == " 4"
    assert PromptFormat.parse("{prompt}{answer}") == PromptFormat("{prompt}", "")
    with pytest.raises(ValueError, match="no {prompt}"):
        PromptFormat.parse("{answer}")


def test_long_examples_lose_the_start_of_the_prompt_not_the_answer() -> None:
    _, tok = tiny_policy()
    long_prompt = " ".join(["Tell me about the weather."] * 40)
    data = encode_examples(tok, [(long_prompt, "It is excellent.")], "{prompt} {answer}", max_length=24)
    answer = tok(" It is excellent.", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert data.answer[0] == answer and len(data.prompt[0]) + len(answer) == 24
    assert data.prompt[0] == tok(long_prompt)["input_ids"][-len(data.prompt[0]):]


def test_weights_are_rescaled_to_mean_one_and_ties_kept() -> None:
    _, tok = tiny_policy()
    pairs = [p.model_copy(update={"weight": w, "tie": t}) for p, w, t in
             zip(toy_pairs(3), (1.0, 2.0, 3.0), (False, True, False), strict=True)]
    data = encode_pairs(tok, pairs, "{prompt} {answer}", 64)
    assert data.weight.tolist() == pytest.approx([0.5, 1.0, 1.5]) and data.tie.tolist() == [False, True, False]


def test_shared_prompt_layout_scores_like_two_rows() -> None:
    model, tok = tiny_policy()
    data = encode_pairs(tok, toy_pairs(5), "{prompt} {answer}", 64)
    scorer = SequenceScorer(model.eval())
    with torch.no_grad():
        shared = scorer(pack_pairs(data, [0, 3, 4], tok.eos_token_id, shared=True))
        rows = scorer(pack_pairs(data, [0, 3, 4], tok.eos_token_id, shared=False))
        alone = scorer(pack_sequences([data.prompt[3]], [data.rejected[3]], tok.eos_token_id))
    assert torch.allclose(shared, rows, atol=1e-5) and torch.allclose(shared[4], alone[0], atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_chunked_head_log_probs_and_gradients_equal_the_plain_ones(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    h = torch.randn(70, 16).to(dtype).requires_grad_()
    w = (0.3 * torch.randn(50, 16)).to(dtype).requires_grad_()
    t, g = torch.randint(0, 50, (70,)), torch.randn(70)
    (TokenLogps.apply(h, w, t, 16) * g).sum().backward()
    ours = (h.grad.clone(), w.grad.clone())
    h.grad = w.grad = None
    logits = (h @ w.T).float()
    ((logits.gather(1, t[:, None]).squeeze(1) - logits.logsumexp(-1)) * g).sum().backward()
    assert torch.allclose(ours[0].float(), h.grad.float(), atol=1e-2 if dtype == torch.bfloat16 else 1e-5)
    assert torch.allclose(ours[1].float(), w.grad.float(), atol=5e-2 if dtype == torch.bfloat16 else 1e-5)


def test_bucketed_batches_cover_every_example_once_per_epoch() -> None:
    lengths = torch.randint(5, 100, (50,)).numpy()
    for bucket in (True, False):
        batches = plan_batches(lengths, 8, seed=3, bucket=bucket)
        assert sorted(i for b in batches for i in b) == list(range(50))
        assert plan_batches(lengths, 8, seed=3, bucket=bucket) == batches  # a resumed run sees the same
