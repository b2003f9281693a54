"""`tether reward train / eval / curve / score / gate`: thin commands over tether.reward."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tether.cli_support import config_options, fail, load_pairs, open_store, require_project
from tether.reward.config import GateConfig, TrainConfig

PairsOpt = Annotated[Path | None, typer.Option("--pairs", help="Pairs file (default kind: v1 pairs JSONL).")]
SetOpt = Annotated[str | None, typer.Option("--set", help="Preference set in the project store (instead of --pairs).")]
KindOpt = Annotated[str, typer.Option("--kind", help="Kind of the --pairs file: pairs, hh-rlhf, trl.")]


def _load_model(path: Path):  # noqa: ANN202
    from tether.reward import load

    try:
        return load(path)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None


reward_app = typer.Typer(help="Reward models: train, audit, score, gate; `list` and `show` the recorded versions.",
                         no_args_is_help=True)
TRAIN_OPTIONS = ("backbone", "objectives", "epochs", "max_steps", "batch_size", "lr", "max_grad_norm", "max_length",
                 "seed", "use_weights", "use_soft_labels", "tie_model", "mixed_precision", "pack", "save_every",
                 "log_with")
GATE_OPTIONS = ("min_accuracy", "max_ece", "max_length_correlation", "min_matched_accuracy", "min_ceiling_ratio")


def _lineage(data: list, pairs_file: Path | None, set_name: str | None) -> dict:
    """What a model was trained on: the set or file, how many pairs, their fingerprint, the audit runs behind them."""
    from tether.reward.data import fingerprint

    runs = sorted({p.provenance["audit_run"] for p in data if isinstance(p.provenance.get("audit_run"), int)})
    return {"set": set_name, "file": str(pairs_file.resolve()) if pairs_file else None, "pairs": len(data),
            "fingerprint": fingerprint(data), "audit_runs": runs}


def _record_version(out_dir: Path, cfg, metrics: dict, lineage: dict, contracts: list) -> None:  # noqa: ANN001
    """Record the trained model as a version in the project's registry (`tether models list`)."""
    from dataclasses import asdict

    from tether.console import out
    from tether.records import ModelVersion

    with open_store() as store:
        version = store.add_model_version(ModelVersion(
            name=out_dir.name, kind="reward", path=str(out_dir.resolve()), metrics=metrics, lineage=lineage,
            config={k: v for k, v in asdict(cfg).items() if k != "extra"}, contracts=contracts))
    out.print(f"recorded as {version.name} {version.version} (tether models show {version.name})")


@reward_app.command("train")
@config_options(TrainConfig, "reward", TRAIN_OPTIONS)
def train_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the trained model (HF format + contracts).")],
    pairs: PairsOpt = None,
    set_name: SetOpt = None,
    kind: KindOpt = "pairs",
    ensemble: Annotated[int, typer.Option(help="Train k members (bootstrap) instead of one model.")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue from the newest checkpoint in OUT_DIR.")] = False,
    *,
    config: TrainConfig,
) -> None:
    """Train a reward model (one head per objective on a shared backbone) from curated pairs."""
    from dataclasses import replace

    from tether.console import out
    from tether.reward.ensemble import train_ensemble
    from tether.reward.model import read_contracts
    from tether.reward.train import train

    require_project()  # the trained model is recorded in the project's registry: say so before any work
    data = load_pairs(pairs, set_name, kind)
    cfg = replace(config, name=out_dir.name)
    try:
        if ensemble > 1:
            train_ensemble(data, out_dir, cfg, k=ensemble)
            out.print(f"trained an ensemble of {ensemble} on {len(data)} pairs -> {out_dir}")
            _record_version(out_dir, cfg, {"members": ensemble}, _lineage(data, pairs, set_name),
                            read_contracts(out_dir / "member-0"))
            return
        res = train(data, out_dir, cfg, resume=resume)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    out.print(f"trained {res.steps} steps on {len(data)} pairs in {res.seconds:.1f}s "
              f"({res.pairs_per_second:.1f} pairs/s), final loss {res.final_loss:.4f} -> {out_dir}")
    for c in res.contracts:
        out.print(f"  {c.objective}: {c.direction.value}, scale {c.scale}, "
                  f"mean {c.normalization['mean']:+.3f} std {c.normalization['std']:.3f}")
    metrics = {"steps": res.steps, "pairs_seen": res.pairs_seen, "seconds": res.seconds, "final_loss": res.final_loss}
    _record_version(out_dir, cfg, metrics, _lineage(data, pairs, set_name), res.contracts)


@reward_app.command("eval")
def eval_cmd(
    model: Annotated[Path, typer.Argument(help="Reward model or ensemble folder.")],
    pairs: PairsOpt = None,
    set_name: SetOpt = None,
    kind: KindOpt = "pairs",
    calibrate: Annotated[Path | None, typer.Option(help="Validation pairs (v1) to fit the temperature on.")
                         ] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Audit a reward model on held-out pairs: accuracy by slice, calibration, length sensitivity."""
    from tether.console import out
    from tether.reward.evaluate import evaluate, write_report

    m = _load_model(model)
    try:
        res = evaluate(m, load_pairs(pairs, set_name, kind), calibration_pairs=load_pairs(calibrate, None, "pairs")
                       if calibrate else None)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if report:
        write_report(res, report, title=f"Reward model audit: {model.name}")
    if as_json:
        out.print_json(json.dumps(res.to_dict()))
        return
    out.print(f"accuracy {res.accuracy:.4f} on {res.n_pairs - res.n_ties} pairs; ECE {res.ece_raw:.4f} raw, "
              f"{res.ece:.4f} after calibration ({res.calibration}, T={res.temperature:.2f}); length rho "
              + ", ".join(f"{o} {v:+.3f}" for o, v in res.length_correlation.items()))
    for name, vals in res.by_slice.items():
        out.print(f"  {name}: " + ", ".join(f"{v} {s['accuracy']:.3f} (n={int(s['n'])})" for v, s in vals.items()))
    if report:
        out.print(f"report: {report}")

@reward_app.command("curve")
def curve_cmd(
    pairs: PairsOpt = None,
    set_name: SetOpt = None,
    kind: KindOpt = "pairs",
    target: Annotated[float, typer.Option(help="Accuracy whose pairs-needed the fitted curve estimates.")] = 0.85,
    holdout: Annotated[float, typer.Option(help="Share of prompts held out and scored.")] = 0.2,
    repeats: Annotated[int, typer.Option(help="Random nested orders of the training pairs.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the prompt split and the orders.")] = 0,
    hard: Annotated[bool, typer.Option("--hard", help="Train on hard labels instead of p_chosen.")] = False,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report (table, fit, plot) here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the curve as JSON.")] = False,
) -> None:
    """How much data: accuracy against the number of curated pairs (n-gram probe), fitted, and the pairs a --target
    accuracy needs. Seconds, no GPU: run it on `tether curate`'s output before paying for more labels."""
    from tether.console import out
    from tether.reward.curve import learning_curve, write_curve_report

    data = load_pairs(pairs, set_name, kind)
    try:
        curve = learning_curve(data, target=target, holdout=holdout, repeats=repeats, seed=seed, soft=not hard)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if report:
        write_curve_report(curve, report)
    if as_json:
        out.print_json(json.dumps(curve.to_dict()))
        return
    out.print(f"{curve.n_train} training pairs, {curve.n_test} held-out pairs on {curve.n_test_prompts} prompts")
    for n, a in zip(curve.sizes, curve.accuracy, strict=True):
        out.print(f"  {n:>7} pairs: accuracy {a:.4f}")
    if curve.fit:
        f = curve.fit
        needed = "not reached" if curve.pairs_needed is None else f"about {curve.pairs_needed:,.0f}"
        out.print(f"fit acc(n) = {f['a']:.4f} - {f['b']:.4f} n^-{f['c']:.4f}; pairs for {target}: {needed}")
    for note in curve.notes:
        out.print(f"note: {note}")
    if report:
        out.print(f"report: {report}")


@reward_app.command("score")
def score_cmd(
    model: Annotated[Path, typer.Argument(help="Reward model or ensemble folder.")],
    input_file: Annotated[Path, typer.Argument(help="JSONL with `prompt` and `response` on each line.")],
    output: Annotated[Path, typer.Argument(help="JSONL out: each line plus `scores` per objective.")],
    normalize: Annotated[bool, typer.Option(help="z-scores with the contract's training stats.")] = False,
) -> None:
    """Score responses; every objective comes out separately (never summed)."""
    import orjson

    from tether.console import out
    from tether.reward.ensemble import RewardEnsemble

    rows = []
    try:
        with input_file.open("rb") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                obj = orjson.loads(line)
                for key in ("prompt", "response"):
                    if not isinstance(obj.get(key), str):
                        raise fail(f"{input_file}:{n}: key {key!r}: missing or not a string")
                rows.append(obj)
    except orjson.JSONDecodeError as exc:
        raise fail(f"{input_file}:{n}: not JSON: {exc}") from None
    except FileNotFoundError:
        raise fail(f"{input_file}: no such file") from None
    m = _load_model(model)
    prompts, responses = [r["prompt"] for r in rows], [r["response"] for r in rows]
    if isinstance(m, RewardEnsemble):
        res = m.score(prompts, responses)
        scores, spread = res.scores, res.disagreement
    else:
        scores, spread = m.score(prompts, responses, normalize=normalize), None
    with output.open("wb") as fh:
        for i, r in enumerate(rows):
            r = {**r, "scores": {o: float(s[i]) for o, s in scores.items()}}
            if spread is not None:
                r["disagreement"] = {o: float(s[i]) for o, s in spread.items()}
            fh.write(orjson.dumps(r) + b"\n")
    out.print(f"scored {len(rows)} responses on {', '.join(scores)} -> {output}")

@reward_app.command("gate")
@config_options(GateConfig, "gate", GATE_OPTIONS)
def gate_cmd(
    model: Annotated[Path, typer.Argument(help="Reward model or ensemble folder.")],
    pairs: PairsOpt = None,
    set_name: SetOpt = None,
    kind: KindOpt = "pairs",
    calibrate: Annotated[Path | None, typer.Option(help="Validation pairs (v1) to fit the temperature on.")
                         ] = None,
    agreement_ceiling: Annotated[float | None, typer.Option(help="Rater agreement rate (from the audit).")
                                 ] = None,
    slice_floor: Annotated[list[str] | None, typer.Option(help="KEY[=VALUE]:FLOOR, e.g. task_type:0.55 (repeat).")
                           ] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    *,
    config: GateConfig,
) -> None:
    """Evaluate and apply the gate; saves reward_gate.json with the model; exit 1 if it fails."""
    from dataclasses import replace

    from tether.console import out
    from tether.reward.evaluate import evaluate, write_report
    from tether.reward.gate import check_gate, save_gate

    floors = dict(config.slice_floors)
    for item in slice_floor or []:
        key, sep, value = item.rpartition(":")
        try:
            floors[key] = float(value)
        except ValueError:
            raise fail(f"--slice-floor {item!r}: expected KEY[=VALUE]:FLOOR, e.g. task_type:0.55") from None
        if not sep or not key:
            raise fail(f"--slice-floor {item!r}: expected KEY[=VALUE]:FLOOR")
    m = _load_model(model)
    try:
        res = evaluate(m, load_pairs(pairs, set_name, kind), agreement_ceiling=agreement_ceiling,
                       calibration_pairs=load_pairs(calibrate, None, "pairs") if calibrate else None)
    except ValueError as exc:
        raise fail(str(exc)) from None
    gate = check_gate(res, replace(config, slice_floors=floors))
    members = [model / n for n in json.loads((model / "reward_ensemble.json").read_text())["members"]] \
        if (model / "reward_ensemble.json").is_file() else [model]
    for folder in members:
        save_gate(folder, gate)
    with open_store() as store:
        store.set_model_gate(str(model.resolve()), gate.to_dict())  # the registry's copy, beside the model's file
    if report:
        write_report(res, report, title=f"Reward model gate: {model.name}", gate=gate)
    for c in gate.checks:
        out.print(c.describe(), highlight=False)
    out.print(gate.summary())
    if not gate.passed:
        raise typer.Exit(1)


@reward_app.command("serve")
def serve_cmd(
    model: Annotated[Path, typer.Argument(help="Reward model or ensemble folder.")],
    host: Annotated[str, typer.Option(help="Interface to listen on; other than loopback needs a token.")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 5000,
    objective: Annotated[str | None, typer.Option(help="Objective sent as `rewards` (default: the first head); "
                                                       "every objective is in `extra_logs`.")] = None,
    normalize: Annotated[bool, typer.Option(help="z-scores with the contracts' training stats.")] = True,
    token_file: Annotated[Path | None, typer.Option(help="File holding the token (mode 600); default: the "
                                                         "TETHER_REWARD_TOKEN variable.")] = None,
    max_batch: Annotated[int, typer.Option(help="Most queries in one request (more: 413).")] = 1024,
    gate_override: Annotated[str | None, typer.Option(help="Serve a model whose gate failed, for this reason "
                                                           "(logged).")] = None,
) -> None:
    """Serve a reward model as OpenRLHF's remote reward model: POST /get_reward, GET /health."""
    from tether.console import out
    from tether.reward.gate import GateFailed, require_gate
    from tether.reward.scoring import folder_objectives, pick_objective
    from tether.reward.tokens import TokenError, read_token, require_token_for

    try:
        from tether.reward.serve import Served, run
    except ModuleNotFoundError as exc:
        raise fail(f"tether reward serve needs {exc.name}: pip install 'tether[serve]'") from None

    try:  # every check before the weights load
        chosen = pick_objective(folder_objectives(model), objective, str(model))
        token = read_token(token_file)
        require_token_for(host, token)
        require_gate(model, override=gate_override)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise fail(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
    except GateFailed as exc:
        raise fail(f"reward model refused: {exc}", "fix the reward model, or pass --gate-override 'REASON'") from None
    if max_batch < 1:
        raise fail(f"--max-batch {max_batch}: must be at least 1")
    served = Served(_load_model(model), chosen, normalize=normalize, token=token, max_batch=max_batch)
    url = f"http://{host}:{port}/get_reward" + ("?token=..." if token else "")
    out.print(f"serving {model} ({chosen} as rewards; {', '.join(served.model.objectives)} in extra_logs); "
              f"OpenRLHF: --reward.remote_url {url}", highlight=False, soft_wrap=True)
    try:
        run(served, host, port)
    except TokenError as exc:
        raise fail(str(exc)) from None


def register(app: typer.Typer) -> None:
    """Add the `reward` sub-app."""
    app.add_typer(reward_app, name="reward")
