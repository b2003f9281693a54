"""`tether reward train / eval / score / gate`: thin commands over tether.reward."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tether.cli_support import fail, open_store

PairsOpt = Annotated[Path | None, typer.Option("--pairs", help="Pairs file (default kind: v1 pairs JSONL).")]
SetOpt = Annotated[str | None, typer.Option("--set", help="Preference set in the project store (instead of --pairs).")]
KindOpt = Annotated[str, typer.Option("--kind", help="Kind of the --pairs file: pairs, hh-rlhf, trl.")]


def _pairs(file: Path | None, set_name: str | None, kind: str, objective: str | None = None) -> list:
    """Preference pairs from a file (any importable pairs kind) or a stored set; errors name file and line."""
    from tether.io import InputError
    from tether.io.formats import read_kind

    if (file is None) == (set_name is None):
        raise fail("give exactly one of --pairs FILE or --set NAME")
    if set_name is not None:
        store = open_store()
        try:
            out = list(store.iter_pairs(set_name=set_name, objective=objective))
        finally:
            store.close()
        if not out:
            raise fail(f"preference set {set_name!r} is empty or missing", "see `tether stats` for the sets")
        return out
    try:
        out = [p for p in read_kind(kind, file, "pairs") if objective is None or p.objective == objective]
    except InputError as exc:
        raise fail(str(exc), "fix the line and run again") from None
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    if not out:
        raise fail(f"{file}: no preference pairs (matching the filters)")
    return out


def _load_model(path: Path):  # noqa: ANN202
    from tether.reward import load

    try:
        return load(path)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None


def register(app: typer.Typer) -> None:
    """Add the `reward` sub-app."""
    sub = typer.Typer(help="Reward models: train, audit, score, gate.", no_args_is_help=True)
    app.add_typer(sub, name="reward")

    @sub.command("train")
    def train_cmd(
        out_dir: Annotated[Path, typer.Argument(help="Folder for the trained model (HF format + contracts).")],
        pairs: PairsOpt = None,
        set_name: SetOpt = None,
        kind: KindOpt = "pairs",
        backbone: Annotated[str, typer.Option(help="Local HF checkpoint folder, or 'minilm'.")] = "minilm",
        objective: Annotated[list[str] | None, typer.Option(help="Heads to train (repeat); default: all in data.")
                             ] = None,
        epochs: Annotated[float, typer.Option()] = 1.0,
        max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps.")] = None,
        batch_size: Annotated[int, typer.Option()] = 16,
        lr: Annotated[float, typer.Option()] = 5e-5,
        max_length: Annotated[int, typer.Option()] = 256,
        seed: Annotated[int, typer.Option()] = 0,
        ensemble: Annotated[int, typer.Option(help="Train k members (bootstrap) instead of one model.")] = 1,
        weights: Annotated[bool, typer.Option(help="Use the audit's per-pair weights.")] = True,
        soft_labels: Annotated[bool, typer.Option(help="Use p_chosen as the target probability.")] = True,
        tie_model: Annotated[str, typer.Option(help="half (tie = p 0.5) or davidson.")] = "half",
        precision: Annotated[str, typer.Option(help="auto, bf16, fp16 or no.")] = "auto",
        save_every: Annotated[int, typer.Option(help="Checkpoint every N steps (for --resume).")] = 0,
        resume: Annotated[bool, typer.Option(help="Continue from the newest checkpoint in OUT_DIR.")] = False,
    ) -> None:
        """Train a reward model (one head per objective on a shared backbone) from curated pairs."""
        from tether.console import out
        from tether.reward.ensemble import train_ensemble
        from tether.reward.train import TrainConfig, train

        data = _pairs(pairs, set_name, kind)
        cfg = TrainConfig(backbone=backbone, objectives=objective or None, epochs=epochs, max_steps=max_steps,
                          batch_size=batch_size, lr=lr, max_length=max_length, seed=seed, use_weights=weights,
                          use_soft_labels=soft_labels, tie_model=tie_model, mixed_precision=precision,  # type: ignore[arg-type]
                          save_every=save_every, name=out_dir.name)
        try:
            if ensemble > 1:
                train_ensemble(data, out_dir, cfg, k=ensemble)
                out.print(f"trained an ensemble of {ensemble} on {len(data)} pairs -> {out_dir}")
                return
            res = train(data, out_dir, cfg, resume=resume)
        except (FileNotFoundError, ValueError) as exc:
            raise fail(str(exc)) from None
        out.print(f"trained {res.steps} steps on {len(data)} pairs in {res.seconds:.1f}s "
                  f"({res.pairs_per_second:.1f} pairs/s), final loss {res.final_loss:.4f} -> {out_dir}")
        for c in res.contracts:
            out.print(f"  {c.objective}: {c.direction.value}, scale {c.scale}, "
                      f"mean {c.normalization['mean']:+.3f} std {c.normalization['std']:.3f}")

    @sub.command("eval")
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
        res = evaluate(m, _pairs(pairs, set_name, kind), calibration_pairs=_pairs(calibrate, None, "pairs")
                       if calibrate else None)
        if report:
            write_report(res, report, title=f"Reward model audit: {model.name}")
        if as_json:
            out.print_json(json.dumps(res.to_dict()))
            return
        out.print(f"accuracy {res.accuracy:.4f} on {res.n_pairs - res.n_ties} pairs; ECE {res.ece_raw:.4f} raw, "
                  f"{res.ece:.4f} at T={res.temperature:.2f}; length rho "
                  + ", ".join(f"{o} {v:+.3f}" for o, v in res.length_correlation.items()))
        for name, vals in res.by_slice.items():
            out.print(f"  {name}: " + ", ".join(f"{v} {s['accuracy']:.3f} (n={int(s['n'])})" for v, s in vals.items()))
        if report:
            out.print(f"report: {report}")

    @sub.command("score")
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

    @sub.command("gate")
    def gate_cmd(
        model: Annotated[Path, typer.Argument(help="Reward model or ensemble folder.")],
        pairs: PairsOpt = None,
        set_name: SetOpt = None,
        kind: KindOpt = "pairs",
        calibrate: Annotated[Path | None, typer.Option(help="Validation pairs (v1) to fit the temperature on.")
                             ] = None,
        min_accuracy: Annotated[float | None, typer.Option()] = 0.6,
        max_ece: Annotated[float | None, typer.Option()] = 0.1,
        max_length_corr: Annotated[float | None, typer.Option(help="Max |Spearman rho| of score vs length.")] = 0.3,
        min_matched_accuracy: Annotated[float | None, typer.Option()] = None,
        agreement_ceiling: Annotated[float | None, typer.Option(help="Rater agreement rate (from the audit).")
                                     ] = None,
        min_ceiling_ratio: Annotated[float | None, typer.Option(help="Min accuracy / agreement ceiling.")] = None,
        slice_floor: Annotated[list[str] | None, typer.Option(help="KEY[=VALUE]:FLOOR, e.g. task_type:0.55 (repeat).")
                               ] = None,
        report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    ) -> None:
        """Evaluate and apply the gate; saves reward_gate.json with the model; exit 1 if it fails."""
        from tether.console import out
        from tether.reward.evaluate import evaluate, write_report
        from tether.reward.gate import GateConfig, check_gate, save_gate

        floors = {}
        for item in slice_floor or []:
            key, sep, value = item.rpartition(":")
            try:
                floors[key] = float(value)
            except ValueError:
                raise fail(f"--slice-floor {item!r}: expected KEY[=VALUE]:FLOOR, e.g. task_type:0.55") from None
            if not sep or not key:
                raise fail(f"--slice-floor {item!r}: expected KEY[=VALUE]:FLOOR")
        m = _load_model(model)
        res = evaluate(m, _pairs(pairs, set_name, kind), agreement_ceiling=agreement_ceiling,
                       calibration_pairs=_pairs(calibrate, None, "pairs") if calibrate else None)
        cfg = GateConfig(min_accuracy=min_accuracy, max_ece=max_ece, max_length_correlation=max_length_corr,
                         min_matched_accuracy=min_matched_accuracy, min_ceiling_ratio=min_ceiling_ratio,
                         slice_floors=floors)
        gate = check_gate(res, cfg)
        members = [model / n for n in json.loads((model / "reward_ensemble.json").read_text())["members"]] \
            if (model / "reward_ensemble.json").is_file() else [model]
        for folder in members:
            save_gate(folder, gate)
        if report:
            write_report(res, report, title=f"Reward model gate: {model.name}", gate=gate)
        for c in gate.checks:
            out.print(c.describe(), highlight=False)
        out.print(gate.summary())
        if not gate.passed:
            raise typer.Exit(1)
