"""The main job: one command that runs Tether's loop on the embedded default.

Today it sets up a project, imports the bundled real data and prints its summary; each
capability that lands adds its stage here, until it runs the whole loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from tether.config import CONFIG_NAME, Project, find_project, init_project
from tether.console import byte_progress, out


def bundled_data_dir() -> Path:
    """The `data/` folder shipped with the source tree (override with TETHER_DATA_DIR)."""
    env = os.environ.get("TETHER_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "data")
    for path in candidates:
        if (path / "pandalm").is_dir():
            return path
    raise FileNotFoundError(
        "bundled data not found: run from a source checkout (pip install -e .) or set TETHER_DATA_DIR"
    )


# (kind, path under data/, what it is)
BUNDLED_IMPORTS: tuple[tuple[str, str, str], ...] = (
    ("pandalm", "pandalm/testset-v1.json", "PandaLM: 999 pairs x 3 human annotators"),
    ("prd", "prd/vicuna80", "PRD Vicuna80: human and LLM reviewers in both display orders"),
    ("hh-rlhf", "hh-rlhf/harmless-base_test.jsonl.gz", "HH-RLHF harmless test split"),
)


@dataclass
class DemoResult:
    project: Project
    imports: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def run_demo(root: Path, *, data_dir: Path | None = None, progress: bool = True) -> DemoResult:
    """Set up (or reuse) a project at `root`, import the bundled data, summarize it."""
    from tether.io import import_file
    from tether.io.importer import total_bytes

    data_dir = data_dir or bundled_data_dir()
    project = find_project(root) if (root / CONFIG_NAME).exists() else init_project(root)
    result = DemoResult(project=project)
    store = project.store()
    try:
        for kind, rel, what in BUNDLED_IMPORTS:
            path = data_dir / rel
            if progress:
                with byte_progress(f"import {kind}", total_bytes(path)) as advance:
                    report = import_file(store, kind, path, set_name=kind, on_bytes=advance)
            else:
                report = import_file(store, kind, path, set_name=kind)
            result.imports.append({"kind": kind, "what": what, **report.as_dict()})
        result.stats = store.stats()
    finally:
        store.close()
    return result


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        path: Annotated[Path, typer.Argument(help="Project folder for the demo.")] = Path("tether-demo"),
        data_dir: Annotated[Path | None, typer.Option(help="Bundled data folder (default: ./data).")] = None,
    ) -> None:
        """Run the main job on the embedded default: project, bundled real data, summary."""
        result = run_demo(path, data_dir=data_dir)
        out.rule("[bold]Tether demo")
        out.print(f"project [bold]{result.project.name}[/] at {result.project.root}")
        out.print(f"store   {result.project.database_url}")
        for imp in result.imports:
            out.print(f"  {imp['kind']:>8}: {imp['what']} — {imp['stored']} new {imp['target']}, "
                      f"{imp['duplicates']} already stored")
        s = result.stats
        out.print(f"comparisons: [bold]{s['comparisons']}[/] on {s['pairs']} pairs by {s['raters']} raters")
        for key in ("by_objective", "by_task_type"):
            top = sorted(s[key].items(), key=lambda kv: -kv[1]["comparisons"])[:8]
            out.print(f"{key.replace('_', ' ')}: " + ", ".join(f"{k} {v['comparisons']}" for k, v in top))
        out.print("raters: " + ", ".join(f"{k} {v['comparisons']}" for k, v in
                                         sorted(s["by_rater"].items(), key=lambda kv: -kv[1]["comparisons"])))
        out.print("preference sets: " + ", ".join(f"{k} ({v} pairs)" for k, v in s["preference_sets"].items()))
