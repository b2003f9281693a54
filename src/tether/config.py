"""Project configuration (`tether.toml`) validated with pydantic, and project discovery."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

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

        return Store(self.database_url)


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


def init_project(root: Path, *, name: str | None = None, database_url: str | None = None,
                 force: bool = False) -> Project:
    """Create `tether.toml` and `.tether/` in `root`, and the database schema."""
    root.mkdir(parents=True, exist_ok=True)
    cfg_path = root / CONFIG_NAME
    if cfg_path.exists() and not force:
        raise ConfigError(f"{cfg_path} already exists (use --force to overwrite)")
    name = name or root.resolve().name or "tether"
    lines = ["[project]", f'name = "{name}"', "", "[store]"]
    if database_url:
        lines.append(f'url = "{database_url}"')
    else:
        lines.append('# url = "postgresql://user@host/db"   # default: SQLite in .tether/tether.db')
    cfg_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    project = Project(root, load_config(cfg_path), has_config=True)
    project.data_dir.mkdir(exist_ok=True)
    (project.data_dir / ".gitignore").write_text("*\n", encoding="utf-8")
    project.store().close()
    return project
