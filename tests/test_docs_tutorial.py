"""The documentation cannot rot: the tutorial's and the campaign walkthrough's code blocks run, in order, as written;
the format reference names every field the records accept; the CLI reference covers every command.

Blocks fenced as ```bash run in bash (`set -euo pipefail`), ```python blocks in this interpreter; each block starts
in the folder where the previous one ended, as in the reader's shell. Other fences (```console, ```text, ```toml,
```json) are shown, not run. The tutorial runs in a folder beside a link to the checkout's `data/`, as a reader
runs it from the root of the checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tether

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.M | re.S)
RUN = ("bash", "python")


def code_blocks(page: Path) -> list[tuple[str, str]]:
    """(language, code) of every fenced block of a Markdown page, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text(encoding="utf-8"))]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(tether.__file__).resolve().parents[1])  # the tether under test, also in the subprocesses
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("TETHER_DATABASE_URL", None)  # the pages create their own projects
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("COLUMNS", None)  # xdist workers set 80; a user's piped output is not wrapped
    return env


def run_page(page: Path, start: Path) -> list[str]:
    """Run a page's bash and python blocks in order from `start`; returns each block's output."""
    env, cwd, outputs = _env(), start, []
    state = start / ".docs-cwd"
    for i, (lang, code) in enumerate(b for b in code_blocks(page) if b[0] in RUN):
        if lang == "bash":
            args = ["bash", "-c", f"set -euo pipefail\n{code}\npwd > {state}"]
        else:
            args = [sys.executable, "-c", code]
        proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (f"{page.name}, block {i + 1} ({lang}) failed with exit code {proc.returncode}:\n"
                                      f"{code}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
        outputs.append(proc.stdout + proc.stderr)
        if lang == "bash":
            cwd = Path(state.read_text().strip())
    return outputs


def test_fences_are_recognised():
    """A block the reader should run is fenced bash or python, so this test sees it."""
    for page in ("tutorial.md", "campaign.md"):
        langs = [lang for lang, _ in code_blocks(DOCS / page)]
        assert langs.count("bash") >= 4 and "python" in langs
        assert "sh" not in langs and "shell" not in langs, f"{page}: fence shell code as bash to have it run"


def test_tutorial_runs(tmp_path: Path):
    (tmp_path / "data").symlink_to(ROOT / "data", target_is_directory=True)
    outputs = run_page(DOCS / "tutorial.md", tmp_path)
    project = tmp_path / "tutorial"
    text = "\n".join(outputs)
    assert "imported 2997 comparisons" in text and "imported 2312 pairs" in text
    assert '"key":"shown_first"' in (project / "rejected.jsonl").read_text()  # the broken line, with its reason
    assert "no task type blocked" in text  # PandaLM's annotators agree
    assert "blocked for scaling: coding, common-sense" in text  # PRD's human reviewers do not
    assert (project / "rm" / "reward_contract.json").is_file()
    assert "accuracy" in text and (project / "rm-gate.html").is_file()
    assert '"p_chosen"' in (project / "pandalm-trl.jsonl").read_text().splitlines()[0]
    assert "rm " in outputs[-1] and "train.jsonl (100 pairs)" in outputs[-1]  # tether models list


def test_campaign_walkthrough_runs(tmp_path: Path):
    outputs = run_page(DOCS / "campaign.md", tmp_path)
    shop = tmp_path / "shop"
    text = "\n".join(outputs)
    assert "ana answered" in text and "ben answered" in text
    exported = (shop / "support.jsonl").read_text().splitlines()
    raters = {line.split('"rater":"')[1].split('"')[0] for line in exported}
    assert raters == {"ana", "ben"}
    assert "resumed: support" in text
    # the LLM judge: a campaign rater of kind ai, in both orders, siding with the people, flagged for nothing
    assert "judge:rule-judge ai agrees with the human majority: 1.0 flags: none" in text


FIELDS_DOCUMENTED = ["Comparison", "Rating", "PreferencePair", "Event", "RewardContract", "Rater"]


@pytest.mark.parametrize("record", FIELDS_DOCUMENTED)
def test_format_reference_names_every_field(record: str):
    import tether.records as records

    page = (DOCS / "formats.md").read_text(encoding="utf-8")
    missing = [f for f in getattr(records, record).model_fields if f"`{f}`" not in page]
    assert not missing, f"docs/formats.md does not document {record} fields {missing}"


def test_format_reference_names_campaign_item_and_profile_fields():
    from tether.collect.campaign import CampaignItem
    from tether.raters.profile import AttributeSpec, TargetProfile

    page = (DOCS / "formats.md").read_text(encoding="utf-8")
    for model in (CampaignItem, AttributeSpec, TargetProfile):
        missing = [f for f in model.model_fields if f"`{f}`" not in page]
        assert not missing, f"docs/formats.md does not document {model.__name__} fields {missing}"


def test_format_reference_names_every_import_kind():
    from tether.io import FORMATS, get_format

    get_format("comparisons")
    page = (DOCS / "formats.md").read_text(encoding="utf-8")
    assert [k for k in FORMATS if f"`{k}`" not in page] == []


def test_cli_reference_renders_every_command_and_option():
    import importlib.util

    import typer

    from tether.cli import app

    spec = importlib.util.spec_from_file_location("cli_reference", DOCS / "_hooks" / "cli_reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = hook.on_page_markdown((DOCS / "cli.md").read_text(encoding="utf-8"), page=None)
    assert hook.MARKER not in page

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    sections = dict(re.findall(r"^#+ `(tether[^`]*)`\n(.*?)(?=^#+ `tether|\Z)", page, re.M | re.S))
    for path, command in walk(typer.main.get_command(app), ["tether"]):
        if getattr(command, "hidden", False):
            continue
        name = " ".join(path)
        assert name in sections, f"{name} missing from the CLI reference"
        if command.help:
            assert command.help.split()[0] in sections[name]
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            for opt in [*param.opts, *getattr(param, "secondary_opts", [])]:
                rows = [opt] if opt.startswith("-") else [f"`{opt} ", f"`{opt}... "]  # an argument's row: its name
                assert any(r in sections[name] for r in rows), f"{name} {opt} missing from the CLI reference"
