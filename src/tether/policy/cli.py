"""`tether policy sft / dpo` (offline) here, `rl / eval` from `tether.policy.rl_cli`: thin commands over tether.policy.

The option aliases below are shared by the policy commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tether.cli_support import config_options, fail, load_pairs, open_store
from tether.policy.config import DPOConfig, SFTConfig
from tether.policy.rl_cli import register_rl

# -- option aliases shared by the policy commands ----------------------------------------------------------------
OutDirArg = Annotated[Path, typer.Argument(help="Folder for the trained policy (Hugging Face format).")]
ModelOpt = Annotated[Path, typer.Option("--model", help="Starting policy: a local causal-LM checkpoint folder "
                                                        "(for DPO also the reference).")]
PairsOpt = Annotated[Path | None, typer.Option("--pairs", help="Pairs file (default kind: v1 pairs JSONL).")]
SetOpt = Annotated[str | None, typer.Option("--set", help="Preference set in the project store (instead of --pairs).")]
KindOpt = Annotated[str, typer.Option("--kind", help="Kind of the --pairs file: pairs, hh-rlhf, trl.")]
ResumeOpt = Annotated[bool, typer.Option(help="Continue from the newest checkpoint in OUT_DIR.")]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="HTML run report (default: OUT_DIR/report.html).")]
RecordOpt = Annotated[bool, typer.Option(help="Record the result as a model version in the project's registry.")]

policy_app = typer.Typer(help="Policies: SFT, the DPO family on curated pairs, online RL (GRPO / RLOO / PPO), eval.",
                         no_args_is_help=True)
SFT_OPTIONS = ("prompt_format", "epochs", "max_steps", "max_seconds", "batch_size", "grad_accum", "lr", "warmup",
               "max_grad_norm", "max_length", "seed", "mixed_precision", "bucket", "save_every", "log_with")
DPO_OPTIONS = ("loss", "beta", "label_smoothing", "sft_weight", "objective", "epochs", "max_steps", "batch_size",
               "grad_accum", "lr", "warmup", "max_grad_norm", "max_length", "seed", "mixed_precision", "bucket",
               "share_prompt", "use_weights", "use_soft_labels", "ref_cache", "displacement_tolerance", "lora_r",
               "lora_alpha", "save_every", "log_with", "samples")


def parent_of(model: Path) -> str:
    """The registry's name of the starting model ('name vN') when it was recorded, else its folder."""
    path = str(model.resolve())
    with open_store() as store:
        versions = store.model_versions(path=path)
    return f"{versions[-1].name} {versions[-1].version}" if versions else path


def record_version(out_dir: Path, parent: str, cfg: Any, metrics: dict, lineage: dict) -> None:
    """Record the trained policy as a version in the project's registry (`tether models list`)."""
    from dataclasses import asdict

    from tether.console import out
    from tether.records import ModelVersion

    with open_store() as store:
        version = store.add_model_version(ModelVersion(
            name=out_dir.name, kind="policy", path=str(out_dir.resolve()), parent=parent, metrics=metrics,
            lineage=lineage, config=asdict(cfg)))
    out.print(f"recorded as {version.name} {version.version} (tether models show {version.name})")


@policy_app.command("sft")
@config_options(SFTConfig, "sft", SFT_OPTIONS)
def sft_cmd(
    out_dir: OutDirArg,
    model: ModelOpt,
    data: Annotated[Path, typer.Option("--data", help="JSONL of {prompt, completion} (TRL's prompt-completion "
                                                      "format, plain text).")],
    resume: ResumeOpt = False,
    record: RecordOpt = True,
    *,
    config: SFTConfig,
) -> None:
    """Supervised fine-tuning of a local causal LM on prompt/completion examples (loss on the completion)."""
    from tether.console import out
    from tether.io import InputError
    from tether.policy.data import read_prompt_completions
    from tether.policy.sft import train_sft
    from tether.records import content_hash

    try:
        examples = read_prompt_completions(data)
        parent = parent_of(model) if record else str(model.resolve())
        res = train_sft(model, examples, out_dir, config, resume=resume)
    except InputError as exc:
        raise fail(str(exc), "fix the line and run again") from None
    except (FileNotFoundError, ValueError, ModuleNotFoundError) as exc:
        raise fail(str(exc)) from None
    out.print(f"trained {res.steps} steps on {len(examples)} examples in {res.seconds:.1f}s, "
              f"final loss {res.final_loss:.4f} -> {out_dir}")
    if record:
        lineage = {"file": str(data.resolve()), "examples": len(examples),
                   "fingerprint": content_hash(*sorted(content_hash(p, c) for p, c in examples))}
        record_version(out_dir, parent, config, {"final_loss": res.final_loss, "steps": res.steps}, lineage)


@policy_app.command("dpo")
@config_options(DPOConfig, "dpo", DPO_OPTIONS)
def dpo_cmd(
    out_dir: OutDirArg,
    model: ModelOpt,
    pairs: PairsOpt = None,
    set_name: SetOpt = None,
    kind: KindOpt = "pairs",
    resume: ResumeOpt = False,
    report: ReportOpt = None,
    record: RecordOpt = True,
    *,
    config: DPOConfig,
) -> None:
    """Optimise a policy with DPO / IPO / cDPO / robust DPO on curated preference pairs (weights, soft labels and
    ties as the audit left them); the starting policy is the reference."""
    from tether.console import out
    from tether.policy.data import usable_pairs
    from tether.policy.dpo import train_dpo
    from tether.policy.report import write_report

    data = load_pairs(pairs, set_name, kind)
    try:
        kept, objective = usable_pairs(data, config.objective)
        parent = parent_of(model) if record else str(model.resolve())
        res = train_dpo(model, kept, out_dir, config, resume=resume)
    except (FileNotFoundError, ValueError, ModuleNotFoundError) as exc:
        raise fail(str(exc)) from None
    out.print(f"trained {res.steps} steps ({config.loss}, beta {config.beta}) on {res.n_pairs} pairs of objective "
              f"{objective!r} ({res.n_ties} ties) in {res.seconds:.1f}s ({res.pairs_per_second:.2f} pairs/s); "
              f"final loss {res.final_loss:.4f}, reward accuracy {res.final_accuracy:.3f} -> {out_dir}")
    if res.displacement:
        out.print(f"[bold yellow]warning:[/] {res.displacement['message']}", highlight=False)
    html = write_report(out_dir, report, samples=res.samples)
    out.print(f"report: {html}")
    if record:
        from tether.reward.data import fingerprint

        runs = sorted({p.provenance["audit_run"] for p in kept if isinstance(p.provenance.get("audit_run"), int)})
        lineage = {"set": set_name, "file": str(pairs.resolve()) if pairs else None, "pairs": len(kept),
                   "objective": objective, "fingerprint": fingerprint(kept), "audit_runs": runs}
        metrics = {"final_loss": res.final_loss, "reward_accuracy": res.final_accuracy, "steps": res.steps,
                   "ties": res.n_ties, "displacement": res.displacement}
        record_version(out_dir, parent, config, metrics, lineage)


register_rl(policy_app)  # tether policy rl / tether policy eval


def register(app: typer.Typer) -> None:
    """Add the `policy` sub-app."""
    app.add_typer(policy_app, name="policy")
