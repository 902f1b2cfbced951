"""Where the configuration comes from, stated once.

1. ``--config DIR`` (the top-level option; it sets ``DESKPILOT_CONFIG_DIR`` for this process
   and its children) or ``DESKPILOT_CONFIG_DIR``: that directory, which must exist;
2. else ``./config`` when it is a directory;
3. else nothing: commands that keep state (``up``, ``serve``, ``worker``, ``scheduler``,
   ``credits``, ``report``, ``db``, ``hosts``, ``jobs``, ``rules replay``) exit 2 with one line
   naming ``deskpilot init``; the read-only rule commands (``rules check|explain|test``) run on
   the packaged defaults, the same files ``deskpilot init`` copies.

The packaged defaults are the repository's ``config/`` shipped in the wheel as the data
package ``plugin.defaults`` (see setup.py); in an editable install they are read from the
checkout itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

ENV = "DESKPILOT_CONFIG_DIR"
#: set by ``up`` for its children: the config directory it already validated at start
CHECKED_ENV = "DESKPILOT_STARTUP_CHECKED"


class ConfigMissing(Exception):
    """No configuration directory was found; the message names ``deskpilot init``."""


@dataclass(frozen=True)
class Found:
    path: Path
    #: "option or DESKPILOT_CONFIG_DIR", "./config" or "packaged defaults"
    source: str


def _packaged(name: str, checkout_dir: str) -> Path:
    # ``plugin/<name>`` in an installed wheel (a data directory, no __init__.py: read through
    # the regular package ``plugin``); in an editable install, the checkout's own directory
    path = Path(str(resources.files("plugin") / name))
    if path.is_dir():
        return path
    return Path(__file__).resolve().parent.parent / checkout_dir


def packaged_config() -> Path:
    """The shipped configuration directory (read-only: edit a copy from ``deskpilot init``)."""
    return _packaged("defaults", "config")


def packaged_examples() -> Path:
    """The shipped example events (``examples/`` in the repository)."""
    return _packaged("examples", "examples")


def discover(env: Mapping[str, str] | None = None, allow_packaged: bool = False) -> Found:
    """The configuration directory by the order above, or :class:`ConfigMissing`."""
    env = os.environ if env is None else env
    given = env.get(ENV)
    if given:
        path = Path(given)
        if not path.is_dir():
            raise ConfigMissing(f"config directory {path} does not exist (from --config or "
                                f"{ENV}); create one with `deskpilot init`")
        return Found(path, f"--config or {ENV}")
    if Path("config").is_dir():
        return Found(Path("config"), "./config")
    if allow_packaged:
        return Found(packaged_config(), "packaged defaults")
    raise ConfigMissing(f"no config/ in {Path.cwd()}: run `deskpilot init` here first "
                        f"(or pass --config DIR / set {ENV})")
