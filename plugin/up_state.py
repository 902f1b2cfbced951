"""What a running ``deskpilot up`` tells the other commands: ``<var_dir>/up.json``.

``up`` writes it (mode 0600: it holds the generic secret and the admin token) once its
children are started and removes it when it stops. ``send``, ``jobs``, ``scheduler tick``
and ``credits`` read it when their own options (``--url``, ``--secret``,
``DESKPILOT_REDIS_URL``) are not given. A file left by an ``up`` that died is ignored: its
``pid`` is no longer alive.

Secrets kept under ``var/`` by ``up`` (generated once, mode 0600): ``generic_secret`` (the
built-in generic connection, unless ``deskpilot.yaml`` declares one or
``DESKPILOT_GENERIC_SECRET`` is set) and ``admin_token`` (unless ``admin_tokens`` or
``DESKPILOT_ADMIN_TOKEN`` give one).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

STATE_FILE = "up.json"


def var_dir_guess() -> Path:
    """The var directory without failing: the settings' when they load, else the default."""
    from plugin.settings import SettingsError, load_settings

    try:
        return load_settings().var_dir
    except (SettingsError, OSError):
        return Path(os.environ.get("DESKPILOT_VAR_DIR") or "var")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (replacing it atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def kept_secret(var_dir: Path, name: str, env_var: str) -> tuple[str, bool]:
    """``(value, created)``: from ``env_var``, else ``var_dir/name``, else generated there."""
    if os.environ.get(env_var):
        return os.environ[env_var], False
    path = var_dir / name
    if path.exists():
        return path.read_text().strip(), False
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # secrets: owner only
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value, True


def write_state(var_dir: Path, state: dict[str, Any]) -> Path:
    path = var_dir / STATE_FILE
    write_private(path, json.dumps({"pid": os.getpid(), **state}, indent=2) + "\n")
    return path


def remove_state(var_dir: Path) -> None:
    path = var_dir / STATE_FILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(var_dir: Path | None = None) -> dict[str, Any]:
    """The running ``up``'s state, or ``{}`` (no file, unreadable, or its ``up`` is gone)."""
    path = (var_dir if var_dir is not None else var_dir_guess()) / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or not _alive(state.get("pid")):
        return {}
    return state
