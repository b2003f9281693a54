"""What every stage's commands share: one error line with a hint, the project's store.

Stage CLIs import this, never `tether.cli` (which loads them), so no command module sits in a cycle.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from tether.config import ConfigError, config_fields, find_project, stage_config
from tether.console import console

if TYPE_CHECKING:
    from tether.store import Store


def fail(message: str, hint: str | None = None, code: int = 2) -> typer.Exit:
    """Print one readable error line (and what to do next); return the Exit to raise."""
    # soft_wrap: paths and keys stay on one line, whole and copyable
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    if hint:
        console.print(f"  {escape(hint)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def open_store() -> Store:
    """The store of the project around the current folder; a config error is one error line."""
    try:
        return find_project().store()
    except ConfigError as exc:
        raise fail(str(exc)) from None


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
