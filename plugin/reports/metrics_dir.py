"""Where every process's Prometheus samples meet: prometheus_client's multiprocess directory.

Events are received in gunicorn workers but processed and pushed in RQ workers and the
scheduler, so each process writes its counters to files in ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` sums them. The variable must be set before prometheus_client is first imported
in a process, so the process commands call :func:`prepare` first; children inherit it.
Deliberately free of prometheus_client imports.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(var_dir: Path) -> Path:
    """Use ``$PROMETHEUS_MULTIPROC_DIR`` (default ``<var_dir>/prometheus``): create it, drop
    the files of processes no longer running (a previous run's), and export it to this
    process and its children. Files of live processes stay: another Deskpilot process on
    the same directory keeps its counts."""
    path = Path(os.environ.get(ENV) or Path(var_dir) / "prometheus").absolute()
    path.mkdir(parents=True, exist_ok=True)
    for file in path.glob("*.db"):
        pid = _pid_of(file)
        if pid is None or not _alive(pid):
            file.unlink(missing_ok=True)
    os.environ[ENV] = str(path)
    return path


def _pid_of(file: Path) -> int | None:
    # prometheus_client names them <kind>_<pid>.db (gauges: gauge_<mode>_<pid>.db)
    tail = file.stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True
