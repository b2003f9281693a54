"""Project configuration (`tether.toml`) validated with pydantic, and project discovery."""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONFIG_NAME = "tether.toml"
DATA_DIR_NAME = ".tether"
ENV_DATABASE_URL = "TETHER_DATABASE_URL"


class ConfigError(ValueError):
    """The project configuration is missing or invalid."""


class ProjectSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "tether"


class StoreSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in .tether/")
    durable: bool = Field(default=False, description="SQLite: fsync every commit (survives power loss, slower)")


class TetherConfig(BaseModel):
    model_config = ConfigDict(extra="allow")  # later stages add their own sections
    project: ProjectSection = Field(default_factory=ProjectSection)
    store: StoreSection = Field(default_factory=StoreSection)


class Project:
    """A project folder: `tether.toml` plus `.tether/` (database, reports, models)."""

    def __init__(self, root: Path, config: TetherConfig | None = None, *, has_config: bool = False) -> None:
        self.root = root.resolve()
        self.config = config or TetherConfig()
        self.has_config = has_config

    @property
    def name(self) -> str:
        return self.config.project.name

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR_NAME

    @property
    def database_url(self) -> str:
        """Environment beats config beats the embedded SQLite default."""
        url = os.environ.get(ENV_DATABASE_URL) or self.config.store.url
        if not url:
            return f"sqlite:///{self.data_dir / 'tether.db'}"
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
            return prefix + str(self.root / url[len(prefix) :])  # relative to the project folder
        return url

    def store(self):  # noqa: ANN201 - avoids importing SQLAlchemy for `--help`
        from tether.store import Store

        return Store(self.database_url, durable=self.config.store.durable)


def load_config(path: Path) -> TetherConfig:
    """Read and validate a `tether.toml`; errors name the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return TetherConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{path}: key {key!r}: {err['msg']}") from exc


def find_project(start: Path | None = None) -> Project:
    """The nearest folder holding `tether.toml`, else the current folder with `.tether/`."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        cfg = folder / CONFIG_NAME
        if cfg.is_file():
            return Project(folder, load_config(cfg), has_config=True)
    return Project(here)


def hide_password(url: str) -> str:
    """The URL with its password (if any) shown as ***."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


def init_project(root: Path, *, name: str | None = None, database_url: str | None = None,
                 force: bool = False) -> Project:
    """Create `tether.toml` and `.tether/` in `root`, and the database schema.

    All or nothing: when the database cannot be opened (no such database, no server, an unknown driver), what
    this call created is removed again (an overwritten tether.toml is put back) and a ConfigError says why."""
    cfg_path = root / CONFIG_NAME
    if cfg_path.exists() and not force:
        raise ConfigError(f"{cfg_path} already exists (use --force to overwrite)")
    absolute = root.resolve()
    first_new = next((d for d in [*reversed(absolute.parents), absolute] if not d.exists()), None)
    data_dir = absolute / DATA_DIR_NAME
    data_existed = data_dir.exists()
    old_cfg = cfg_path.read_bytes() if cfg_path.exists() else None
    root.mkdir(parents=True, exist_ok=True)
    name = name or absolute.name or "tether"
    lines = ["[project]", f'name = "{name}"', "", "[store]"]
    if database_url:
        lines.append(f'url = "{database_url}"')
    else:
        lines.append('# url = "postgresql://user@host/db"   # default: SQLite in .tether/tether.db')
    try:
        cfg_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        project = Project(root, load_config(cfg_path), has_config=True)
        project.data_dir.mkdir(exist_ok=True)
        (project.data_dir / ".gitignore").write_text("*\n", encoding="utf-8")
        project.store().close()
    except Exception as exc:
        # leave nothing behind, so that a retry needs no --force
        if old_cfg is None:
            cfg_path.unlink(missing_ok=True)
        else:
            cfg_path.write_bytes(old_cfg)
        if not data_existed:
            shutil.rmtree(data_dir, ignore_errors=True)
        if first_new is not None:
            shutil.rmtree(first_new, ignore_errors=True)
        if isinstance(exc, ConfigError):
            raise
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        url = hide_password(Project(root, _config_of(lines)).database_url)
        raise ConfigError(f"cannot open the database {url}: {reason}; nothing was created "
                          "(create the database first, or fix --database-url)") from exc
    return project


def _config_of(lines: list[str]) -> TetherConfig:
    return TetherConfig.model_validate(tomllib.loads("\n".join(lines)))


def setting(default: Any, help: str = "") -> Any:  # noqa: A002
    """A dataclass config field that carries its help, from which its CLI option and tether.toml key derive."""
    if isinstance(default, dict | list):
        return dataclasses.field(default_factory=lambda: copy.copy(default), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def config_fields(model: type) -> dict:
    """Field name -> (default, help) of a stage config, a pydantic model or a dataclass (help in metadata)."""
    if hasattr(model, "model_fields"):
        return {n: (f.get_default(call_default_factory=True), f.description or "")
                for n, f in model.model_fields.items()}
    return {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default,
                     f.metadata.get("help", "")) for f in dataclasses.fields(model)}


def stage_config(model: type, section: str, overrides: dict | None = None, project: Project | None = None):  # noqa: ANN201
    """A stage's config: its defaults, overlaid by `tether.toml`'s `[section]`, overlaid by `overrides`.

    Section keys are field names or their CLI spellings (`threshold` for `--threshold`); a bad key or value in
    the file is a ConfigError naming the file, section and key. Errors in `overrides` propagate as raised."""
    project = project or find_project()
    raw = (project.config.model_extra or {}).get(section) or {}
    where = f"{project.root / CONFIG_NAME} [{section}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    fields = config_fields(model)
    by_alias = {cli.replace("-", "_"): name for name, cli in getattr(model, "cli_names", {}).items()}
    values = {}
    for key, value in raw.items():
        name = by_alias.get(key, key)
        if name not in fields:
            raise ConfigError(f"{where}: unknown key {key!r}")
        values[name] = value
    overrides = overrides or {}
    try:
        return model(**{**values, **overrides})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else ""
        if key in values and key not in overrides:  # the file's value is wrong: say where it came from
            raise ConfigError(f"{where}: key {key!r}: {err['msg']}") from exc
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
