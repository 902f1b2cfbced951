"""Business calendars: the public face of the calendar model and its YAML loader.

``config/calendars.yaml`` names calendars (the team ``default``, one per support
manager, one per client company) and intersections of them; see that file for
the format. Times and windows are wall-clock times in the calendar's zone.
"""

from __future__ import annotations

from rules.calendar.load import calendars_from_source, load_calendars
from rules.calendar.model import DEFAULT_HORIZON, Calendar, IntersectionCalendar, intersect

__all__ = [
    "DEFAULT_HORIZON",
    "Calendar",
    "IntersectionCalendar",
    "calendars_from_source",
    "intersect",
    "load_calendars",
]
