"""`tether policy rl / eval`: thin commands over tether.policy.rl and the evaluators.

The `policy` sub-app lives in `tether.policy.cli`; it calls `register_rl(policy_app)` to add these two commands.
Evaluators come from reward-model folders (`--reward`, repeatable; gated: a model whose gate failed is refused)
and from named evaluators that other stages register (`--evaluator gold`: the simulated world's, from tether.sim).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tether.cli_support import config_options, fail, open_store, require_project
from tether.policy.rl_config import EvalConfig, RLConfig

RL_OPTIONS = ("algorithm", "objectives", "steps", "prompts_per_step", "completions_per_prompt", "max_new_tokens",
              "temperature", "top_k", "stop", "max_prompt_tokens", "strict_prompts", "lr", "warmup", "max_grad_norm",
              "epochs", "clip", "scale_rewards", "kl_coef", "kl_control", "kl_in", "kl_estimator", "kl_target",
              "max_sqrt_kl", "value_coef", "seed", "mixed_precision", "save_every", "sample_every", "log_with",
              "monitor_every", "stop_on_alarm", "rollback", "alarm_level", "alarm_horizon", "alarm_proxy_gate",
              "kl_raise", "constraints",
              "pid")
EVAL_OPTIONS = ("completions_per_prompt", "max_new_tokens", "temperature", "stop", "batch_size", "seed", "backend")

PromptsOpt = Annotated[Path, typer.Option("--prompts", help="Prompts: JSONL with a `prompt` on each line, or a "
                                                             "text file with one prompt per line.")]
RewardOpt = Annotated[list[Path] | None, typer.Option("--reward", help="tether.reward model or ensemble folder "
                                                                       "(repeat for several objectives).")]
EvaluatorOpt = Annotated[str | None, typer.Option("--evaluator", help="A named evaluator: gold (the "
                                                                      "simulated world's gold reward), humaneval (the "
                                                                      "task's tests, run in the outcomes sandbox).")]
EvalSeedOpt = Annotated[int, typer.Option("--evaluator-seed", help="Seed of the named evaluator (gold: world seed).")]
AggOpt = Annotated[str | None, typer.Option(help="Ensembles: mean, min (worst case), mean_std (mean - lam * std) "
                                                 "or mean_var (default: the ensemble's own).")]
LamOpt = Annotated[float | None, typer.Option(help="Ensembles: the lam of mean_std / mean_var.")]
NormOpt = Annotated[bool, typer.Option(help="z-score reward models with their contracts' training statistics.")]


def read_prompts(path: Path) -> list[str]:
    """Prompts from JSONL (`prompt` key) or a text file (one per line); errors name the file and line."""
    return read_prompts_and_slices(path)[0]


def read_prompts_and_slices(path: Path) -> tuple[list[str], list[str] | None]:
    """`read_prompts`, and the slice labels of JSONL prompts (`slice`, else `task_type`, on every line) for the
    monitor's attribution of a held-out drop per slice; None when a line has neither (or the file is plain text)."""
    if not path.is_file():
        raise fail(f"{path}: no such file")
    prompts: list[str] = []
    jsonl = path.suffix in (".jsonl", ".json")
    slices: list[str] | None = [] if jsonl else None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if not jsonl:
            prompts.append(line.replace("\\n", "\n"))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise fail(f"{path}:{n}: not JSON: {exc}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
            raise fail(f"{path}:{n}: key 'prompt': missing or not a string")
        prompts.append(obj["prompt"])
        label = obj.get("slice", obj.get("task_type"))
        if slices is not None:
            if isinstance(label, str):
                slices.append(label)
            else:
                slices = None
    if not prompts:
        raise fail(f"{path}: no prompts")
    return prompts, slices


def named(evaluator: str | None, seed: int) -> Any:
    """The named evaluator (None: none asked for); an unknown name is one error line listing the known ones."""
    from tether.policy.evaluators import named_evaluator

    if not evaluator:
        return None
    try:
        return named_evaluator(evaluator, seed)
    except ValueError as exc:
        raise fail(f"--evaluator: {exc}") from None


def check_sources(rewards: list[Path], evaluator: Any, objectives: list[str], *,
                  gate_override: str | None = None, gated: bool = True) -> None:
    """Before any work: at least one source; every reward model passed its gate (`gated`); every objective asked
    for is scored by some source (reward models: by their contracts, without loading weights)."""
    from tether.policy.evaluators import parse_weights
    from tether.reward.gate import GateFailed, require_gate
    from tether.reward.scoring import folder_objectives

    if not rewards and evaluator is None:
        raise fail("give at least one --reward DIR or --evaluator NAME")
    found: dict[str, list[str]] = {}
    for folder in rewards:
        if gated:
            try:
                require_gate(folder, override=gate_override)
            except GateFailed as exc:
                raise fail(f"reward model refused: {exc}", "fix the reward model, or pass --gate-override "
                                                           "'REASON' to proceed anyway (logged)") from None
        try:
            found[str(folder)] = folder_objectives(folder)
        except (FileNotFoundError, ValueError, KeyError) as exc:
            raise fail(f"{folder}: {exc}") from None
    if evaluator is not None:
        found[getattr(evaluator, "name", "evaluator")] = list(evaluator.objectives)
    try:
        wanted = parse_weights(objectives)
    except ValueError as exc:
        raise fail(f"--objective: {exc}") from None
    have = {o for objs in found.values() for o in objs}
    missing = [o for o in wanted if o not in have]
    if missing:
        raise fail(f"--objective {', '.join(missing)}: no reward model or evaluator scores it; "
                   + "; ".join(f"{k} scores {', '.join(v) or 'nothing'}" for k, v in found.items()))


def check_cost_models(rewards: list[Path], constraints: list[str], override: str | None) -> None:
    """A reward model whose head is a constraint's cost must have a saved ECE <= 0.1 (`tether reward gate`)."""
    from tether.console import out
    from tether.policy.constraints import CalibrationRefused, parse_constraints, require_calibrated
    from tether.reward.scoring import folder_objectives

    try:
        parsed = parse_constraints(constraints)
    except ValueError as exc:
        raise fail(f"--constraint: {exc}") from None
    for c in parsed:
        for folder in rewards:
            if c.objective is None or c.objective not in folder_objectives(folder):
                continue
            try:
                require_calibrated(folder, c.text, override=override)
            except CalibrationRefused as exc:
                raise fail(f"cost model refused: {exc}", "or pass --calibration-override 'REASON' to use it anyway") \
                    from None
            if override:
                out.print(f"calibration check of {folder} for {c.text!r} overridden: {override}")


def build_evaluator(rewards: list[Path], evaluator: Any, aggregation: str | None, lam: float | None,
                    normalize: bool) -> Any:
    """The reward models (loaded now) and the named evaluator as one evaluator."""
    from tether.policy.evaluators import CombinedEvaluator, load_evaluator

    try:
        parts = [load_evaluator(f, aggregation=aggregation, lam=lam, normalize=normalize)  # type: ignore[arg-type]
                 for f in rewards]
        parts += [evaluator] if evaluator is not None else []
        return parts[0] if len(parts) == 1 else CombinedEvaluator(parts)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None


def heldout_source(source: str | None, seed: int, flag: str = "--heldout") -> Any:
    """A held-out evaluator: a reward-model (or ensemble) folder, or a named evaluator (gold, ...); None if none."""
    if not source:
        return None
    if Path(source).is_dir():
        return build_evaluator([Path(source)], None, None, None, True)
    from tether.policy.evaluators import named_evaluator

    try:
        return named_evaluator(source.removeprefix("sim-"), seed)
    except ValueError as exc:
        raise fail(f"{flag} {source}: not a folder, and {exc}") from None


def starting_policy(out_dir: Path, legacy_out: Path | None, model: Path | None) -> tuple[Path, Path]:
    """(policy, out_dir) of `rl OUT --model POLICY`, as `sft` and `dpo` take them (and TRL's `--model_name_or_path`,
    `--output_dir`); the first form, `rl POLICY OUT`, still works, with a deprecation warning."""
    from tether.console import console

    if legacy_out is None:
        if model is None:
            raise fail("give the policy to start from: tether policy rl OUT_DIR --model POLICY")
        return model, out_dir
    if model is not None:
        raise fail(f"two folders and --model: use tether policy rl {legacy_out} --model {model}")
    console.print(f"[bold yellow]deprecated:[/] tether policy rl POLICY OUT; use tether policy rl {legacy_out} "
                  f"--model {out_dir} (as sft and dpo)", highlight=False, soft_wrap=True)
    return out_dir, legacy_out


@config_options(RLConfig, "rl", RL_OPTIONS)
def rl_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the trained policy, its metrics and report.")],
    legacy_out: Annotated[Path | None, typer.Argument(hidden=True, show_default=False)] = None,
    *,
    model: Annotated[Path | None, typer.Option("--model", help="Policy to start from: a local Hugging Face causal "
                                                               "LM folder (the reference of the KL too).")] = None,
    prompts: PromptsOpt,
    reward: RewardOpt = None,
    evaluator: EvaluatorOpt = None,
    evaluator_seed: EvalSeedOpt = 0,
    aggregation: AggOpt = None,
    lam: LamOpt = None,
    normalize: NormOpt = True,
    gate_override: Annotated[str | None, typer.Option(help="Use a reward model whose gate failed; the reason is "
                                                            "logged.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the newest checkpoint in OUT_DIR.")] = False,
    heldout: Annotated[str | None, typer.Option(help="Monitor: the held-out evaluator the policy never trains on, a "
                                                     "reward-model folder or a named evaluator (gold / sim-gold).")
                       ] = None,
    heldout_prompts: Annotated[Path | None, typer.Option(help="Monitor: held-out prompts (as --prompts).")] = None,
    calibration_override: Annotated[str | None, typer.Option(help="Use a reward model as a constraint's cost "
                                                                  "although its saved ECE is missing or above 0.1; "
                                                                  "the reason is printed.")] = None,
    truth: Annotated[str | None, typer.Option(help="Monitor: a named evaluator shown beside the others but never "
                                                   "used to decide (the simulated world's gold).")] = None,
    config: RLConfig,
) -> None:
    """Optimise a policy online (GRPO, RLOO or PPO) against reward models or an evaluator, with a KL tether."""
    from dataclasses import replace

    from tether.console import out
    from tether.policy.evaluators import MissingObjective
    from tether.policy.rl import train_rl

    policy, out_dir = starting_policy(out_dir, legacy_out, model)
    require_project()  # the trained policy is recorded in the project's registry: say so before any work
    rewards = list(reward or [])
    try:
        cfg = replace(config, name=out_dir.name).check()
    except ValueError as exc:
        raise fail(str(exc)) from None
    scorer = named(evaluator, evaluator_seed)
    check_sources(rewards, scorer, cfg.objectives, gate_override=gate_override)
    check_cost_models(rewards, cfg.constraints, calibration_override)
    texts = read_prompts(prompts)
    if not (policy / "config.json").is_file():
        raise fail(f"{policy}: not a Hugging Face model folder (no config.json)")
    guard_kw: dict[str, Any] = {}
    if cfg.monitor_every:
        if heldout is None or heldout_prompts is None:
            raise fail("--monitor-every needs --heldout EVALUATOR and --heldout-prompts FILE")
        held_texts, slices = read_prompts_and_slices(heldout_prompts)
        guard_kw = {"heldout": heldout_source(heldout, evaluator_seed), "heldout_prompts": held_texts,
                    "truth": heldout_source(truth, evaluator_seed, "--truth")}
        if slices is not None:
            guard_kw["heldout_slices"] = slices
    elif heldout or heldout_prompts or truth:
        raise fail("--heldout, --heldout-prompts and --truth are the monitor's: add --monitor-every N")
    ev = build_evaluator(rewards, scorer, aggregation, lam, normalize)
    try:
        res = train_rl(policy, texts, ev, out_dir, cfg, resume=resume, **guard_kw)
    except (MissingObjective, ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    last = res.last
    out.print(f"{cfg.algorithm}: {res.steps} steps, {res.completions} completions in {res.seconds:.1f}s "
              f"({res.completions_per_second:.1f}/s); last reward {last.get('reward', float('nan')):.4f}, "
              f"KL {last.get('kl', float('nan')):.4f} -> {out_dir}", highlight=False)
    if res.stopped:
        out.print(res.stopped)
    out.print(f"report: {out_dir / 'report.html'}")
    _record_version(policy, out_dir, cfg, res, rewards, evaluator, prompts, len(texts))


def _record_version(parent: Path, out_dir: Path, cfg: RLConfig, res: Any, rewards: list[Path],
                    evaluator: str | None, prompts: Path, n_prompts: int) -> None:
    """Record the trained policy as a version (`tether models list`), its parent the policy it started from."""
    from dataclasses import asdict

    from tether.console import out
    from tether.records import ModelVersion
    from tether.reward.model import read_contracts

    with open_store() as store:
        known = store.model_versions(path=str(parent.resolve()))
        parent_label = f"{known[-1].name}:{known[-1].version}" if known else str(parent.resolve())
        used = []
        for folder in rewards:
            versions = store.model_versions(path=str(folder.resolve()))
            used.append({"path": str(folder.resolve()), "version": versions[-1].version if versions else None})
        contracts = [c for f in rewards for c in _all_contracts(f, read_contracts)]
        version = store.add_model_version(ModelVersion(
            name=out_dir.name, kind="policy", path=str(out_dir.resolve()), parent=parent_label,
            metrics={"steps": res.steps, "completions": res.completions, "seconds": res.seconds,
                     "stopped": res.stopped, **{k: v for k, v in res.last.items() if isinstance(v, float)}},
            config=asdict(cfg), contracts=contracts,
            lineage={"prompts": str(prompts.resolve()), "n_prompts": n_prompts, "rewards": used,
                     "evaluator": evaluator}))
    out.print(f"recorded as {version.name} {version.version}, parent {parent_label} (tether models show "
              f"{version.name})")


def _all_contracts(folder: Path, read: Any) -> list:
    meta = folder / "reward_ensemble.json"
    if meta.is_file():
        return read(folder / json.loads(meta.read_text())["members"][0])
    return read(folder)


@config_options(EvalConfig, "policy_eval", EVAL_OPTIONS)
def eval_cmd(
    policy: Annotated[Path, typer.Argument(help="Policy: a local Hugging Face causal LM folder.")],
    prompts: PromptsOpt,
    reward: RewardOpt = None,
    evaluator: EvaluatorOpt = None,
    evaluator_seed: EvalSeedOpt = 0,
    aggregation: AggOpt = None,
    lam: LamOpt = None,
    normalize: NormOpt = True,
    report: Annotated[Path, typer.Option(help="Write the HTML report here.")] = Path("policy-eval.html"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    *,
    config: EvalConfig,
) -> None:
    """Score a policy's answers to a prompt set with any evaluator (reward models, sim gold, ...); write a report."""
    from tether.console import out
    from tether.policy.rl_report import summarize, write_eval_report

    rewards = list(reward or [])
    scorer = named(evaluator, evaluator_seed)
    check_sources(rewards, scorer, [], gated=False)
    texts = read_prompts(prompts)
    if not (policy / "config.json").is_file():
        raise fail(f"{policy}: not a Hugging Face model folder (no config.json)")
    ev = build_evaluator(rewards, scorer, aggregation, lam, normalize)
    try:
        answers, truncated = _answers(policy, texts, config)
        rows = [p for p in texts for _ in range(config.completions_per_prompt)]
        scores = ev(rows, answers)
    except (ValueError, ImportError) as exc:
        raise fail(str(exc)) from None
    summary = summarize(str(policy), getattr(ev, "name", type(ev).__name__), rows, answers, scores, truncated)
    write_eval_report(summary, report, scores)
    if as_json:
        out.print_json(json.dumps({**summary.to_dict(), "report": str(report)}))
        return
    for o in summary.means:
        lo, hi = summary.ci[o]
        out.print(f"{o}: {summary.means[o]:.4f} (95% CI {lo:.4f}-{hi:.4f})", highlight=False)
    out.print(f"{summary.n} completions, {truncated} prompts cut to fit; report: {report}")


def _answers(policy: Path, prompts: list[str], cfg: EvalConfig) -> tuple[list[str], int]:
    """The policy's completions (k adjacent per prompt) and how many prompts were cut to fit the context."""
    from tether.policy.generation import load_policy, prompt_format_of, sample_texts, vllm_texts

    fmt = prompt_format_of(policy)
    greedy = cfg.temperature <= 0
    if cfg.backend == "vllm":
        return vllm_texts(policy, prompts, k=cfg.completions_per_prompt, prompt_format=fmt,
                          max_new_tokens=cfg.max_new_tokens, temperature=max(cfg.temperature, 0.0), stop=cfg.stop,
                          seed=cfg.seed), 0
    if cfg.backend != "torch":
        raise ValueError(f"--backend must be torch or vllm, got {cfg.backend!r}")
    model, tokenizer = load_policy(policy)
    return sample_texts(model, tokenizer, prompts, k=cfg.completions_per_prompt, prompt_format=fmt,
                        max_new_tokens=cfg.max_new_tokens, do_sample=not greedy,
                        temperature=cfg.temperature if not greedy else 1.0, stop=cfg.stop,
                        batch_size=cfg.batch_size, seed=cfg.seed)


def register_rl(policy_app: typer.Typer) -> None:
    """Add `rl` and `eval` to the `policy` sub-app."""
    policy_app.command("rl")(rl_cmd)
    policy_app.command("eval")(eval_cmd)
