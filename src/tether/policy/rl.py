"""Online RL of a causal LM policy: one readable loop (GRPO, RLOO, PPO) on the shared training scaffold.

    for each step:
        prompts (a seeded permutation per epoch)  ->  k completions each (`rollout`: KV cache, seeded by step)
        -> evaluator(prompts, completions) -> {objective: scores} -> weighted reward per completion
        -> one no-grad forward of the reference (and, for PPO or several epochs, of the policy: old log-probs, values)
        -> advantages: GRPO (group-normalised) | RLOO (leave-one-out) | PPO (per-token KL reward, GAE)
        -> for each epoch: clipped policy loss (+ KL in the loss) (+ value loss) -> AdamW step
        -> the KL controller sees the batch's KL; a KL budget stops the run once sqrt(KL) passes it

A plain GPT-2 (the built-in sim policy) samples and scores through `FastGPT2` (the same math without the module
stack, no padding in the matmuls); any other causal LM through its own forward. The math lives in
`tether.policy.advantages` and `tether.policy.kl`; precision, fp32 master weights, the AdamW
schedule, checkpoints (`<out>/checkpoints/step-N`, exact resume: sampling is seeded by step, not by RNG state),
progress and the metrics log (`<out>/metrics.jsonl`) in `tether.training`. The result is a Hugging Face folder
with the parent's prompt format, `tether_rl.json` (config, parent, result), `samples.jsonl` and `report.html`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tether.policy.advantages import (
    clipped_policy_loss,
    clipped_value_loss,
    gae,
    group_advantages,
    masked_mean,
    masked_whiten,
    rloo_advantages,
)
from tether.policy.constraints import ConstraintShaper, PIDGains, parse_constraints
from tether.policy.evaluators import Evaluator, parse_weights, require_objectives, weighted_reward
from tether.policy.generation import (
    META_FILE,
    FastGPT2,
    Rollout,
    fuse_activations,
    load_policy,
    prompt_format_of,
    rollout,
)
from tether.policy.kl import AdaptiveKLController, FixedKLController, KLBudget, kl_estimate, kl_in_loss, kl_in_reward
from tether.policy.rl_config import RLConfig

RL_FILE = "tether_rl.json"
SAMPLES_FILE = "samples.jsonl"
SAMPLES_PER_STEP = 4


@dataclass
class RLResult:
    """What a run produced: the folder, steps and completions done, time, why it stopped early, the last metrics."""

    path: Path
    steps: int
    completions: int
    seconds: float
    stopped: str | None = None
    last: dict[str, float] = field(default_factory=dict)
    monitor: dict[str, Any] | None = None  # the over-optimisation monitor's summary (checks, events, best, fit)

    @property
    def completions_per_second(self) -> float:
        return self.completions / max(self.seconds, 1e-9)


class Actor(torch.nn.Module):
    """The policy and, for PPO, a scalar value head on its last hidden state: one module to optimise and save."""

    def __init__(self, policy: Any, value_head: bool = False) -> None:
        super().__init__()
        self.policy = policy
        self.value = None
        if value_head:
            self.value = torch.nn.Linear(policy.config.hidden_size, 1)
            torch.nn.init.zeros_(self.value.weight)  # values start at 0: the first advantages are the returns
            torch.nn.init.zeros_(self.value.bias)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, width: int, temperature: float = 1.0,
                completion_mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Log-probs ``(B, T)`` of the completion tokens `ids[:, width:]` at `temperature`, their entropies
        (detached) and, with a value head, the value before each of them. Given the `completion_mask`, a plain
        GPT-2 runs the lean path (`FastGPT2.completion_logps`: no padding in the matmuls), other models their own
        forward."""
        if completion_mask is not None and FastGPT2.supports(self.policy):
            keep = torch.cat([mask[:, :width], completion_mask.to(mask.dtype)], -1)
            logps, entropy, states = FastGPT2(self.policy).completion_logps(ids, keep, width, completion_mask,
                                                                            temperature)
            return logps, entropy, self._values(states)
        n = ids.shape[1] - width
        kw: dict[str, Any] = {"output_hidden_states": self.value is not None}
        if "logits_to_keep" in _forward_params(self.policy):
            kw["logits_to_keep"] = n + 1  # the lm head on the completion only
        out = self.policy(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                          use_cache=False, **kw)
        logits = out.logits[:, -(n + 1) : -1].float() / temperature  # position t predicts token t + 1
        logp_all = torch.log_softmax(logits, -1)
        logps = logp_all.gather(-1, ids[:, width:].unsqueeze(-1)).squeeze(-1)
        with torch.no_grad():
            entropy = -(logp_all.exp() * logp_all).sum(-1)
        return logps, entropy, self._values(out.hidden_states[-1][:, width - 1 : -1] if self.value is not None
                                            else None)

    def _values(self, states: torch.Tensor | None) -> torch.Tensor | None:
        if self.value is None or states is None:
            return None
        return self.value(states.to(self.value.weight.dtype)).squeeze(-1).float()


def _forward_params(model: Any) -> Any:
    import inspect

    return inspect.signature(model.forward).parameters


def kl_controller(cfg: RLConfig) -> FixedKLController | AdaptiveKLController | KLBudget:
    """The configured controller: fixed (the conservative default), adaptive to a target, or a sqrt(KL) budget."""
    if cfg.kl_control == "adaptive":
        return AdaptiveKLController(cfg.kl_coef, cfg.kl_target, cfg.kl_horizon)
    if cfg.kl_control == "budget":
        return KLBudget(cfg.max_sqrt_kl, FixedKLController(cfg.kl_coef))
    return FixedKLController(cfg.kl_coef)


class RunState:
    """What a checkpoint needs beyond accelerate's: the KL controller's coefficient and observed sqrt(KL), and the
    constraints' PID multipliers."""

    def __init__(self, controller: Any, shaper: ConstraintShaper | None = None) -> None:
        self.controller, self.shaper = controller, shaper

    def _inner(self) -> Any:
        return getattr(self.controller, "controller", self.controller)

    def state_dict(self) -> dict:
        state = {"coef": self._inner().value, "sqrt_kl": getattr(self.controller, "sqrt_kl", 0.0)}
        if self.shaper is not None:
            state["constraints"] = self.shaper.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self._inner().value = state["coef"]
        if hasattr(self.controller, "sqrt_kl"):
            self.controller.sqrt_kl = state["sqrt_kl"]
        if self.shaper is not None and "constraints" in state:
            self.shaper.load_state_dict(state["constraints"])


@dataclass
class Experience:
    """One step's completions with everything the update needs (rows prompt-major, k per prompt)."""

    rollout: Rollout
    prompts: list[str]  # the prompt of each row
    scores: dict[str, np.ndarray]
    reward: torch.Tensor  # (B,) weighted objective scores (with constraints: shaped by their multipliers)
    old_logps: torch.Tensor | None  # (B, T); None: the update's own, detached (one epoch, GRPO / RLOO)
    ref_logps: torch.Tensor | None  # (B, T); None: no KL term (coefficient 0)
    old_values: torch.Tensor | None  # (B, T) PPO
    sampled_logps: torch.Tensor | None = None  # (B, T) the policy's log-probs before the update (set by it)
    constraint_fields: dict[str, float] = field(default_factory=dict)  # costs, thresholds, multipliers
    main_reward: float | None = None  # the weighted objectives' mean before the constraints shaped it


def train_rl(policy: str | Path, prompts: Sequence[str], evaluator: Evaluator, out_dir: str | Path,
             config: RLConfig | None = None, **kw: Any) -> RLResult:
    """Optimise the policy at `policy` on `prompts` against `evaluator`; save it to `out_dir`. `kw` as `rl_iter`."""
    it = rl_iter(policy, prompts, evaluator, out_dir, config, **kw)
    while True:
        try:
            next(it)
        except StopIteration as done:
            return done.value


def rl_iter(policy: str | Path, prompts: Sequence[str], evaluator: Evaluator, out_dir: str | Path,
            config: RLConfig | None = None, *, resume: bool = False, progress: bool = True,
            prompt_format: str | None = None, save: bool = True, heldout: Evaluator | None = None,
            heldout_prompts: Sequence[str] | None = None, truth: Evaluator | None = None,
            heldout_slices: Sequence[str] | None = None) -> Generator[dict[str, float], None, RLResult]:
    """`train_rl` one step at a time: yields `{}` once set up, then each step's metrics; returns the RLResult.

    Lets a caller interleave training with other work (the benchmark steps it between TRL's steps).
    `save=False` skips writing the final folder. With `cfg.monitor_every`, the over-optimisation monitor
    (`tether.policy.rl_guard`) scores `heldout_prompts` with `heldout` (and `truth`, shown only) at step 0 and every
    N steps, raises the KL coefficient when the proxy/held-out gap opens, and on its alarm stops the run and (unless
    `cfg.rollback` is off) rolls back to the best check's weights; its fields go to the metrics log under
    `monitor/`, its events, fit and the attribution of a held-out drop to objectives (and to `heldout_slices`, one
    label per held-out prompt) to tether_rl.json and the report. The monitor's history is not checkpointed: a
    resumed run's first check is its new baseline. With `kl_control="adaptive"` a raise lasts until the controller
    moves the coefficient again."""
    from tether.training import MetricsLog, make_accelerator, resolve_precision, save_checkpoint
    from tether.training import progress as progress_bar
    from tether.training import resume as resume_from

    cfg = (config or RLConfig()).check()
    weights = parse_weights(cfg.objectives)
    shaper = ConstraintShaper(parse_constraints(cfg.constraints), PIDGains.parse(cfg.pid)) if cfg.constraints \
        else None
    require_objectives(evaluator, [*weights, *(shaper.objectives if shaper else [])])  # before any work
    prompts = list(prompts)
    if len(prompts) < cfg.prompts_per_step:
        raise ValueError(f"{len(prompts)} prompts, fewer than the {cfg.prompts_per_step} a step takes")
    guard = _guard(cfg, evaluator, weights, heldout, heldout_prompts, truth, prompt_format or "", heldout_slices)
    out = Path(out_dir)
    precision = resolve_precision(cfg.mixed_precision)
    accelerator = make_accelerator(precision)
    opt, ref, tokenizer = _setup(policy, cfg, precision, accelerator)
    fmt = prompt_format if prompt_format is not None else prompt_format_of(policy)
    if guard is not None:
        guard.prompt_format = fmt
    controller = kl_controller(cfg)
    accelerator.register_for_checkpointing(RunState(controller, shaper))
    step = resume_from(accelerator, out / "checkpoints") if resume else 0
    samples = _SampleLog(out / SAMPLES_FILE, step, accelerator.is_main_process)
    result = RLResult(out, step, 0, 0.0)
    yield {}
    with (progress_bar(f"RL {cfg.algorithm} {cfg.name}", cfg.steps, progress) as advance,
          MetricsLog(out, cfg.log_with, start_step=step, enabled=accelerator.is_main_process,
                     run_name=cfg.name) as log, samples):
        advance(step)
        if guard is not None:  # the first check: the starting (reference) policy, the baseline of everything
            log.log(step, **_monitor_check(guard, opt, ref, tokenizer, step, controller))
        while step < cfg.steps:
            t0 = time.perf_counter()
            batch = _prompt_batch(prompts, cfg, step, accelerator)
            exp = _experience(opt, ref, tokenizer, batch, evaluator, weights, cfg, fmt, step, shaper)
            metrics = _update(opt, exp, cfg, controller.value)
            metrics.update(_observe(exp, controller, cfg))
            step += 1
            seconds = time.perf_counter() - t0
            result.seconds += seconds
            result.completions += len(exp.prompts)
            metrics.update(lr=opt.lr, seconds=seconds, completions_per_s=len(exp.prompts) / seconds)
            if guard is not None:
                metrics.update(_signature_fields(exp))
            if guard is not None and guard.due(step):
                metrics.update(_monitor_check(guard, opt, ref, tokenizer, step, controller))
            log.log(step, **metrics)
            if cfg.sample_every and (step == 1 or step % cfg.sample_every == 0):
                samples.add(step, exp)
            result.steps, result.last = step, metrics
            advance(1)
            yield metrics
            if cfg.save_every and step % cfg.save_every == 0 and step < cfg.steps:
                save_checkpoint(accelerator, out / "checkpoints", step)
            if guard is not None and metrics.get("monitor/alarm") and cfg.stop_on_alarm:
                result.stopped = f"over-optimisation alarm at step {step}: {guard.monitor.events[-1]['why']}"
                if cfg.rollback:
                    actor = opt.accelerator.unwrap_model(opt.model)
                    best = guard.restore(actor, getattr(opt, "master", None))
                    result.stopped += f"; rolled back to step {best}"
                    guard.monitor.events.append({"step": step, "event": "rollback",
                                                 "why": f"weights of step {best}, the best held-out check"})
                break
            if isinstance(controller, KLBudget) and controller.exhausted:
                result.stopped = (f"KL budget spent at step {step}: sqrt(KL) {controller.sqrt_kl:.3f} > "
                                  f"{controller.max_sqrt_kl}")
                break
    if guard is not None:
        result.monitor = guard.monitor.summary()
    if save and accelerator.is_main_process:
        _save(opt, tokenizer, out, cfg, policy, fmt, result)
    return result


def _guard(cfg: RLConfig, evaluator: Evaluator, weights: dict[str, float], heldout: Evaluator | None,
           heldout_prompts: Sequence[str] | None, truth: Evaluator | None, fmt: str,
           slices: Sequence[str] | None = None) -> Any:
    """The monitor's `Guard` when `cfg.monitor_every` asks for one (its evaluator and prompts then required)."""
    from tether.policy.rl_guard import Guard

    if not cfg.monitor_every:
        return None
    if heldout is None or not heldout_prompts:
        raise ValueError("monitor_every needs a held-out evaluator and held-out prompts (--heldout, "
                         "--heldout-prompts)")
    return Guard.build(heldout_prompts, evaluator, weights, heldout, truth=truth, every=cfg.monitor_every,
                       rollback=cfg.rollback, level=cfg.alarm_level, horizon=cfg.alarm_horizon,
                       raise_kl=cfg.kl_raise, proxy_gate=cfg.alarm_proxy_gate, prompt_format=fmt,
                       max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, stop=cfg.stop, seed=cfg.seed,
                       slices=None if slices is None else list(slices))


def _monitor_check(guard: Any, opt: Any, ref: Any, tokenizer: Any, step: int, controller: Any) -> dict[str, float]:
    """A check: the monitor's record; keep the best weights; raise the KL coefficient on evidence."""
    from tether.policy.rl_guard import metric_fields

    actor = opt.accelerator.unwrap_model(opt.model)
    rec = guard.check(actor.policy, ref, tokenizer, step)
    guard.keep_if_best(rec, actor, getattr(opt, "master", None))
    inner = getattr(controller, "controller", controller)
    new = guard.raised_coef(rec, inner.value)
    if new is not None:
        inner.value = new
    return metric_fields(rec)


def _signature_fields(exp: Experience) -> dict[str, float]:
    """The step's reward-hacking signatures on its training completions, under `sig/`."""
    from tether.policy.signatures import signature_means

    return {f"sig/{k}": v for k, v in signature_means(exp.rollout.texts).items()}


def _setup(policy: str | Path, cfg: RLConfig, precision: str, accelerator: Any) -> tuple[Any, Any, Any]:
    """Policy (dropout off: two forwards of one sample must agree), its frozen reference copy, the optimiser."""
    from accelerate.utils import set_seed

    from tether.training import adamw

    set_seed(cfg.seed)
    model, tokenizer = load_policy(policy)
    fuse_activations(model)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    actor = Actor(model, value_head=cfg.algorithm == "ppo")
    if precision == "bf16":
        actor.to(torch.bfloat16)
    ref = None
    if cfg.kl_coef > 0 or cfg.kl_control != "fixed" or cfg.monitor_every:  # the monitor measures KL, may raise it
        ref = copy.deepcopy(model).eval().requires_grad_(False).to(accelerator.device)
    actor.train()
    opt = adamw(accelerator, actor, [cfg.lr], total=cfg.steps, warmup=cfg.warmup, weight_decay=cfg.weight_decay,
                master_weights=precision == "bf16", max_grad_norm=cfg.max_grad_norm)
    return opt, ref, tokenizer


def _prompt_batch(prompts: list[str], cfg: RLConfig, step: int, accelerator: Any) -> list[str]:
    """This step's prompts: a seeded permutation per epoch (a resumed run sees the same); each process its share."""
    per_epoch = len(prompts) // cfg.prompts_per_step
    epoch, i = divmod(step, per_epoch)
    order = np.random.default_rng([cfg.seed, epoch]).permutation(len(prompts))
    batch = [prompts[j] for j in order[i * cfg.prompts_per_step : (i + 1) * cfg.prompts_per_step]]
    return batch[accelerator.process_index :: accelerator.num_processes] or batch


def _experience(opt: Any, ref: Any, tokenizer: Any, batch: list[str], evaluator: Evaluator,
                weights: dict[str, float], cfg: RLConfig, fmt: str, step: int,
                shaper: ConstraintShaper | None = None) -> Experience:
    """Sample k completions per prompt, score them (the constraints' multipliers updated on this batch's costs and
    shaping its reward), and take the no-grad log-probs and values the update needs."""
    actor = opt.accelerator.unwrap_model(opt.model)
    r = rollout(actor.policy, tokenizer, batch, k=cfg.completions_per_prompt, prompt_format=fmt,
                max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_k=cfg.top_k, stop=cfg.stop,
                seed=cfg.seed * 1_000_003 + step, max_prompt_tokens=cfg.max_prompt_tokens,
                strict=cfg.strict_prompts)
    rows = [batch[i] for i in r.prompt_index]
    scores = evaluator(rows, r.texts)
    device = r.input_ids.device
    main = weighted_reward(scores, weights)
    shaped, fields = shaper.shape(main, scores, r.texts) if shaper is not None else (main, {})
    reward = torch.as_tensor(shaped, dtype=torch.float32, device=device)
    old_logps = old_values = ref_logps = None
    with torch.no_grad():
        if cfg.algorithm == "ppo" or cfg.epochs > 1:
            old_logps, _, old_values = actor(r.input_ids, r.attention_mask, r.prompt_width, cfg.temperature,
                                             r.completion_mask)
        if ref is not None:
            ref_logps = Actor(ref)(r.input_ids, r.attention_mask, r.prompt_width, cfg.temperature,
                                   r.completion_mask)[0]
    return Experience(r, rows, scores, reward, old_logps, ref_logps, old_values, constraint_fields=fields,
                      main_reward=float(np.mean(main)))


def _advantages(exp: Experience, cfg: RLConfig, coef: float, old_logps: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Advantages (``(B, 1)`` per sequence, or ``(B, T)`` per token for PPO) and PPO's returns."""
    mask = exp.rollout.completion_mask
    kl_reward = exp.ref_logps is not None and cfg.kl_place == "reward" and coef > 0
    if cfg.algorithm == "ppo":
        ref = exp.ref_logps if kl_reward else old_logps
        token_rewards = kl_in_reward(exp.reward, old_logps, ref, mask, coef if kl_reward else 0.0, cfg.estimator)
        adv, returns = gae(token_rewards, exp.old_values, mask, cfg.gamma, cfg.lam)
        return masked_whiten(adv, mask), returns
    reward = exp.reward
    if kl_reward:  # the sequence's KL penalty joins its score before the baseline (TRL's RLOO)
        reward = reward - coef * (kl_estimate(old_logps, exp.ref_logps, cfg.estimator) * mask).sum(-1)
    grouped = reward.view(-1, cfg.completions_per_prompt)
    adv = group_advantages(grouped, cfg.scale_rewards) if cfg.algorithm == "grpo" else rloo_advantages(grouped)
    return adv.reshape(-1, 1), None


def _update(opt: Any, exp: Experience, cfg: RLConfig, coef: float) -> dict[str, float]:
    """`cfg.epochs` optimizer steps on the batch: clipped policy loss (+ KL in the loss) (+ value loss)."""
    r, mask = exp.rollout, exp.rollout.completion_mask
    kl_loss = exp.ref_logps is not None and cfg.kl_place == "loss" and coef > 0
    adv = returns = None
    stats: dict[str, float] = {}
    for epoch in range(cfg.epochs):
        logps, entropy, values = opt.model(r.input_ids, r.attention_mask, r.prompt_width, cfg.temperature,
                                           mask)
        old = exp.old_logps if exp.old_logps is not None else logps.detach()
        if adv is None:
            exp.sampled_logps = old
            adv, returns = _advantages(exp, cfg, coef, old)
        per_token = clipped_policy_loss(logps, old, adv, cfg.clip)
        if kl_loss:
            per_token = per_token + kl_in_loss(logps, exp.ref_logps, coef, cfg.estimator)
        policy_loss = masked_mean(per_token, mask)
        loss = policy_loss
        if values is not None:
            value_loss = masked_mean(clipped_value_loss(values, exp.old_values, returns, cfg.value_clip), mask)
            loss = loss + cfg.value_coef * value_loss
            stats["value_loss"] = value_loss.item()
        opt.step(loss)  # the gradient norm clipped to cfg.max_grad_norm (on the fp32 masters in bf16)
        if epoch == 0:
            ratio = torch.exp(logps.detach() - old)
            clipped = ((ratio - 1).abs() > cfg.clip).float()
            stats.update(entropy=masked_mean(entropy, mask).item(), clip_frac=masked_mean(clipped, mask).item())
    stats.update(loss=loss.item(), policy_loss=policy_loss.item())
    return stats


def _observe(exp: Experience, controller: Any, cfg: RLConfig) -> dict[str, float]:
    """The step's rewards, lengths and KL (k1 and k3 summed per completion); the controller sees the k1 mean."""
    r, mask = exp.rollout, exp.rollout.completion_mask
    lengths = r.lengths.float()
    out = {"reward": exp.reward.mean().item(), "reward_std": exp.reward.std().item(),
           **{f"reward/{o}": float(np.mean(s)) for o, s in exp.scores.items()},
           "length": lengths.mean().item(), "length_max": lengths.max().item(), "truncated": float(r.truncated),
           "kl_coef": controller.value, **exp.constraint_fields}
    if exp.constraint_fields:
        out["reward_main"] = exp.main_reward
    if exp.ref_logps is not None:
        logps = exp.sampled_logps
        kl = (kl_estimate(logps, exp.ref_logps, "k1") * mask).sum(-1).mean().item()
        k3 = (kl_estimate(logps, exp.ref_logps, "k3") * mask).sum(-1).mean().item()
        controller.update(kl, len(exp.prompts))
        out.update(kl=kl, kl_k3=k3, sqrt_kl=max(kl, 0.0) ** 0.5)
    return out


class _SampleLog:
    """A few completions every `sample_every` steps, to `samples.jsonl`; a resumed run keeps those up to its step."""

    def __init__(self, path: Path, start: int, enabled: bool) -> None:
        self.path, self.fh = path, None
        if enabled:
            path.parent.mkdir(parents=True, exist_ok=True)
            kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= start] \
                if start and path.is_file() else []
            self.fh = path.open("w", encoding="utf-8")
            self.fh.writelines(line + "\n" for line in kept)

    def add(self, step: int, exp: Experience) -> None:
        if self.fh is None:
            return
        for i in range(min(SAMPLES_PER_STEP, len(exp.prompts))):
            row = {"step": step, "prompt": exp.prompts[i], "completion": exp.rollout.texts[i],
                   "reward": float(exp.reward[i]), "scores": {o: float(s[i]) for o, s in exp.scores.items()}}
            self.fh.write(json.dumps(row) + "\n")
        self.fh.flush()

    def __enter__(self) -> _SampleLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fh is not None:
            self.fh.close()


def _save(opt: Any, tokenizer: Any, out: Path, cfg: RLConfig, parent: str | Path, fmt: str,
          result: RLResult) -> None:
    """The trained policy as a Hugging Face folder (fp32), its parent's prompt format, the run's metadata, report."""
    from tether.policy.rl_report import write_rl_report

    actor = opt.trained_model()
    actor.policy.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if actor.value is not None:
        torch.save(actor.value.state_dict(), out / "value_head.pt")
    parent_meta = Path(parent) / META_FILE
    meta = json.loads(parent_meta.read_text(encoding="utf-8")) if parent_meta.is_file() else {}
    meta["prompt_format"] = meta.get("prompt_format") or fmt + " {answer}"
    (out / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    info = {"parent": str(Path(parent).resolve()), "config": asdict(cfg), "steps": result.steps,
            "completions": result.completions, "seconds": result.seconds, "stopped": result.stopped,
            "last": result.last, "monitor": result.monitor}
    (out / RL_FILE).write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    if (out / "checkpoints").exists() and not cfg.save_every:
        shutil.rmtree(out / "checkpoints")
    with contextlib.suppress(ImportError):  # the report needs matplotlib
        write_rl_report(out, out / "report.html", title=f"Online RL ({cfg.algorithm}): {cfg.name}")
