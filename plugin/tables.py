"""Imports every module that defines tables, so ``Base.metadata`` is complete.

Each capability that adds tables adds its models module here (and a migration).
"""

from plugin import web_sessions as web_session_models  # noqa: F401
from plugin.cabinet import models as cabinet_models  # noqa: F401
from plugin.ledger import models as ledger_models  # noqa: F401
from plugin.outbox import rows as outbox_models  # noqa: F401
from plugin.processing import models as jobs_models  # noqa: F401
from plugin.reports import models as reports_models  # noqa: F401
from plugin.storage import models  # noqa: F401
