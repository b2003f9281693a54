"""`tether demo`, the main job: every stage of the loop on the embedded default, then the seven guards' table."""

from typing import Any

from tether.demo.command import register


def __getattr__(name: str) -> Any:
    """The stages on first use: they import the simulated world, scikit-learn and the guards, which every other
    command's start-up would otherwise pay for (the CLI registers `demo` in every process)."""
    if name in ("DemoResult", "bundled_data_dir", "run_demo"):
        from tether.demo import stages

        return getattr(stages, name)
    raise AttributeError(f"module 'tether.demo' has no attribute {name!r}")


__all__ = ["DemoResult", "bundled_data_dir", "register", "run_demo"]
