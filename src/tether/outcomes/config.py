"""Sandbox limits, defined once: the CLI options of `tether outcomes run` and tether.toml's [outcomes] keys derive
from them."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class SandboxConfig(BaseModel):
    """What one sample may use before the sandbox stops it, and how many samples run at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cli_names: ClassVar[dict[str, str]] = {"wall_seconds": "timeout", "cpu_seconds": "cpu-time",
                                           "memory_mb": "memory", "output_bytes": "max-output"}

    wall_seconds: float = Field(10.0, gt=0, description="wall-clock limit per sample, in seconds")
    cpu_seconds: int = Field(5, ge=1, description="CPU-time limit per process of a sample, in seconds")
    memory_mb: int = Field(512, ge=64, description="address-space limit per process, in MB")
    processes: int = Field(32, ge=1, description="processes (and threads) a sample may have at once")
    output_bytes: int = Field(1_000_000, ge=1024, description="largest stdout, stderr or file a sample may write")
    workers: int = Field(0, ge=0, description="samples run at once (0: one per CPU core)")


SANDBOX_OPTIONS = ("wall_seconds", "cpu_seconds", "memory_mb", "processes", "output_bytes", "workers")
