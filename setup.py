"""Packages and the one directory mapping pyproject.toml cannot express with ``find``.

The repository's top-level ``config/`` (the shipped rules, calendars, plans, reports
config and rule tests; YAML only, no ``__init__.py``) is the source; in the wheel it lands
as the data package ``plugin.defaults``, read with ``importlib.resources`` by
``deskpilot init`` and the packaged-defaults fallback (``plugin.config_discovery``).
``examples/`` (generic events of one ticket's lifecycle) lands as ``plugin.examples``.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["plugin*", "webhooks*", "rules*"]),
              "plugin.defaults", "plugin.examples"],
    package_dir={"plugin.defaults": "config", "plugin.examples": "examples"},
)
