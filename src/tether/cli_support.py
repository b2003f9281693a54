"""What every stage's commands share: one error line with a hint, the project's store.

Stage CLIs import this, never `tether.cli` (which loads them), so no command module sits in a cycle.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from tether.config import CONFIG_NAME, ENV_DATABASE_URL, ConfigError, Project, config_fields, find_project, stage_config
from tether.console import console


def _quiet_transformers() -> None:
    """transformers' own weight-loading and shard-writing bars are not this CLI's progress: off (the variable is
    read when transformers is imported; an already imported one is told directly)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1":
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


_quiet_transformers()

if TYPE_CHECKING:
    from tether.store import Store


def _no_flag_metavar() -> None:
    """Typer shows `<bool>` as the value of flags (`--help <bool>`); a flag takes no value, so show none."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "_tether", False):
        return

    def display_type_rich(self: TyperOption, ctx: typer.Context) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._tether = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_flag_metavar()


def fail(message: str, hint: str | None = None, code: int = 2, details: Sequence[str] = ()) -> typer.Exit:
    """Print one readable error line (then `details`, one a line, and what to do next); return the Exit to raise."""
    # soft_wrap: paths and keys stay on one line, whole and copyable
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    for line in details:
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    if hint:
        console.print(f"  {escape(hint)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def require_project() -> Project:
    """The project around the current folder (or, with TETHER_DATABASE_URL set, the current folder on that
    database); outside one, an error line that says how to make one. Only `tether init` creates a project."""
    try:
        project = find_project()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if not project.has_config and not os.environ.get(ENV_DATABASE_URL):
        hint = "create one with `tether init` (here) or `tether init DIR` and run commands inside it"
        if (project.data_dir / "tether.db").is_file():
            hint = f"{project.data_dir} holds a store but no tether.toml: `tether init .` makes it a project"
        raise fail(f"not in a Tether project: no {CONFIG_NAME} in {project.root} or any folder above it",
                   f"{hint}; or set {ENV_DATABASE_URL}")
    return project


def open_store() -> Store:
    """The store of the project around the current folder; outside a project or on a config error, one error
    line (nothing is created)."""
    project = require_project()
    try:
        return project.store()
    except ConfigError as exc:
        raise fail(str(exc)) from None


def embedding_cache():  # noqa: ANN201 - the type lives in tether.store, imported on use
    """The project's embedding cache (`.tether/embeddings/`), or None outside a project or when its `.tether/` does
    not exist: a command run on files alone creates nothing."""
    try:
        project = find_project()
    except ConfigError:
        return None
    if not project.has_config or not project.data_dir.is_dir():
        return None
    from tether.store.embedding_cache import EmbeddingCache

    return EmbeddingCache(project.data_dir / "embeddings")


def events_tenant(given: str | None = None) -> str:
    """The events tenant a command reads or writes: `given`, else the project's name in tether.toml (the tenant
    `tether keys create` gives keys and `tether import events` writes to)."""
    return given or require_project().name


def config_options(model: type, section: str, fields: Sequence[str], *, param: str = "config",
                   from_args: Sequence[str] = ()) -> Callable:
    """Give a command one option per config field, derived from the config (TRL's HfArgumentParser style).

    The option's help is the field's description; its default is the field's default, overlaid by `tether.toml`'s
    `[section]`; values given on the command line win. The command receives the built config as `param`;
    `from_args` names config fields the command takes as its own arguments (they are passed on too)."""
    defaults = config_fields(model)
    hints = typing.get_type_hints(model)
    names = getattr(model, "cli_names", {})

    def decorate(func: Callable) -> Callable:
        sig = inspect.signature(func)
        resolved = typing.get_type_hints(func, include_extras=True)  # the command's own Annotated options
        params = [p.replace(annotation=resolved.get(p.name, p.annotation))
                  for p in sig.parameters.values() if p.name != param]
        added = []
        for name in fields:
            default, help_ = defaults[name]
            flag = "--" + names.get(name, name.replace("_", "-"))
            decls = (f"{flag}/--no-{flag[2:]}",) if hints[name] is bool else (flag,)
            shown = "" if default is None or isinstance(default, list | dict) else rf" \[default: {default}]"
            option = typer.Option(*decls, help=f"{help_}{shown}", show_default=False)
            added.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                           annotation=Annotated[hints[name] | None, option]))

        @functools.wraps(func)
        def wrapper(*args: object, **kwargs: object) -> object:
            given = {n: v for n in fields if (v := kwargs.pop(n)) is not None}
            given.update({n: kwargs[n] for n in from_args})
            try:
                kwargs[param] = stage_config(model, section, given)
            except ConfigError as exc:
                raise fail(str(exc)) from None
            except ValidationError as exc:
                err = exc.errors()[0]
                field = str(err["loc"][0]) if err["loc"] else ""
                raise fail(f"--{names.get(field, field.replace('_', '-'))}: {err['msg']}") from None
            return func(*args, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=[*params, *added])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in wrapper.__signature__.parameters.values()}
        return wrapper

    return decorate


def load_pairs(file: Path | None, set_name: str | None, kind: str, objective: str | None = None) -> list:
    """Preference pairs from a file (any importable pairs kind) or a stored set; errors name file and line."""
    from tether.io import InputError
    from tether.io.formats import read_records

    if (file is None) == (set_name is None):
        raise fail("give exactly one of --pairs FILE or --set NAME")
    store = open_store() if file is None else None
    try:
        out = list(read_records("pairs", store, path=file, kind=kind, set_name=set_name, objective=objective))
    except InputError as exc:
        raise fail(str(exc), "fix the line and run again") from None
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    finally:
        if store is not None:
            store.close()
    if not out:
        raise fail(f"preference set {set_name!r} is empty or missing" if file is None else
                   f"{file}: no preference pairs (matching the filters)",
                   "see `tether stats` for the sets" if file is None else None)
    return out


def show_warnings_plainly() -> None:
    """Tether's own warnings are written for users: print them as one `warning:` line, not Python's
    `file.py:105: IdentificationWarning: ...` with the source line under it. Others keep Python's format."""
    import warnings

    shown = warnings.showwarning
    if getattr(shown, "_tether", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001, ANN202
        if category.__module__.split(".")[0] == "tether":
            console.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
        else:
            shown(message, category, filename, lineno, file, line)

    show._tether = True  # type: ignore[attr-defined]
    warnings.showwarning = show
