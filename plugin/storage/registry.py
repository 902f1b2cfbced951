"""Imports every module that defines tables, so ``Base.metadata`` is complete.

Each capability that adds tables adds its models module here (and a migration).
"""

from plugin.storage import models  # noqa: F401
