"""The generic event's plain loader equals marshmallow's load or steps aside (``None``).

Bodies are generated field by field from plain values and from what marshmallow accepts
only after coercion or refuses (nulls, ``"true"``, ``"5"``, floats, empty or long ids,
naive instants, nulls inside lists...): the plain loader must never disagree with the
schema, and must handle the plain bodies itself (else it would save nothing).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from rules import generic_plain
from rules.event import ACTOR_KINDS, CHANNELS, PRIORITIES, STATUSES
from rules.generic_format import SCHEMA, offset_instant

ODD = st.sampled_from([None, True, False, 0, -1, 7, 5.0, 1e400, "", " ", "x" * 101, "true",
                       "1", "yes", "5", "2026-11-23T10:05:00", [], ["a"], {}, {"id": 1}])


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly valid, else an odd value."""
    return st.sampled_from([True] * 9 + [False]).flatmap(lambda ok: valid if ok else ODD)


def obj(required: dict[str, st.SearchStrategy[Any]],
        optional: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with its required fields (one may be dropped), some optional ones, an unknown."""
    full = st.fixed_dictionaries({k: mostly(v) for k, v in required.items()}, optional={
        **{k: mostly(v) for k, v in optional.items()}, "extra": st.text(max_size=3)})
    if not required:
        return full
    dropped = full.flatmap(lambda d: st.sampled_from(sorted(required)).map(
        lambda k: {n: v for n, v in d.items() if n != k}))
    return st.sampled_from([True] * 9 + [False]).flatmap(lambda ok: full if ok else dropped)


IDS = st.one_of(st.sampled_from(["T-1", " T-2 ", "x" * 100]), st.integers(0, 10**6))
INSTANTS = st.sampled_from([
    "2026-11-23T10:05:00+02:00", "2026-11-23T08:05:00Z", "2026-11-23T08:05:00.123456z",
    "2026-11-23 08:05:00+00:00", "2026-11-23T10:05:00-05:30"])
TEXT = st.text(max_size=8)
RAW = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4))
ACTOR = obj({}, {"kind": st.sampled_from(ACTOR_KINDS), "id": IDS, "name": TEXT})
PERSON = obj({}, {"id": IDS, "email": TEXT})
TICKET = obj({"id": IDS, "created_at": INSTANTS}, {
    "company": obj({"id": IDS}, {"name": TEXT}), "requester": PERSON, "assignee": PERSON,
    "subject": TEXT, "body": TEXT, "tags": st.lists(mostly(st.text(max_size=4)), max_size=3),
    "priority": st.sampled_from(PRIORITIES), "status": st.sampled_from(STATUSES),
    "channel": st.sampled_from(CHANNELS),
    "custom_fields": st.dictionaries(st.text(max_size=4), RAW, max_size=3),
})
EVENT = obj({"event": st.sampled_from(["ticket.created", "ticket.updated", "x" * 60]),
             "occurred_at": INSTANTS, "ticket": TICKET}, {
    "actor": ACTOR,
    "changes": st.dictionaries(st.text(max_size=4), st.lists(RAW, max_size=3), max_size=3),
    "comment": obj({"public": st.booleans()}, {"id": IDS, "body": TEXT, "author": ACTOR}),
    "time_entry": obj({"minutes": st.integers(0, 100000)},
                      {"id": IDS, "agent_id": IDS, "billable": st.booleans(), "note": TEXT}),
    "rating": obj({"score": st.integers(0, 10)},
                  {"scale": st.sampled_from([5, 10]), "comment": TEXT}),
    "merged_into": IDS,
})


def by_schema(data: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return SCHEMA.load(data)
    except ValidationError:
        return None


@settings(max_examples=3000)
@given(data=EVENT)
def test_plain_loader_agrees_with_the_schema(data):
    data = json.loads(json.dumps(data))  # what a body can hold, as json.loads hands it over
    plain = generic_plain.load(data, offset_instant)
    if plain is not None:
        assert plain == by_schema(data)


PLAIN_BODIES = [
    {"event": "ticket.created", "occurred_at": "2026-11-23T10:05:00+02:00",
     "ticket": {"id": 1001, "created_at": "2026-11-23T10:00:00Z"}},
    {"event": "ticket.updated", "occurred_at": "2026-11-23T10:05:00+02:00",
     "actor": {"kind": "agent", "id": "a-3", "name": "Ihor"},
     "ticket": {"id": "T-1", "created_at": "2026-11-23T10:00:00+02:00",
                "company": {"id": "acme", "name": "ACME Ltd"},
                "requester": {"id": "u-17", "email": "olena@acme.example"},
                "assignee": None, "subject": "s", "body": None, "tags": ["reports"],
                "priority": "normal", "status": "in_progress", "channel": "email",
                "custom_fields": {"task_type": "composite", "units": 2}},
     "changes": {"status": ["accepted", "in_progress"]}, "unknown": {"kept": "raw"}},
    {"event": "comment.added", "occurred_at": "2026-11-23T10:05:00+02:00",
     "ticket": {"id": "T-1", "created_at": "2026-11-23T10:00:00+02:00", "tags": None},
     "comment": {"id": 5, "public": False, "body": "hi", "author": {"kind": "client"}}},
    {"event": "time.logged", "occurred_at": "2026-11-23T10:05:00+02:00",
     "ticket": {"id": "T-1", "created_at": "2026-11-23T10:00:00+02:00"},
     "time_entry": {"minutes": 45, "agent_id": "a-3", "billable": False, "note": None}},
    {"event": "ticket.rated", "occurred_at": "2026-11-23T10:05:00+02:00",
     "ticket": {"id": "T-1", "created_at": "2026-11-23T10:00:00+02:00"},
     "rating": {"score": 9, "scale": 10}, "merged_into": "T-0"},
    # issue 17: a field set for the first time ([null, new]) is plain, as marshmallow loads it
    {"event": "ticket.updated", "occurred_at": "2026-11-23T10:05:00+02:00",
     "ticket": {"id": "T-1", "created_at": "2026-11-23T10:00:00+02:00"},
     "changes": {"assignee": [None, "a-3"], "task_type": [None, "composite"]}},
]


def test_plain_bodies_are_loaded_without_marshmallow_and_as_marshmallow_would():
    for body in PLAIN_BODIES:
        plain = generic_plain.load(body, offset_instant)
        assert plain is not None, body
        assert plain == SCHEMA.load(body)


def test_what_marshmallow_coerces_or_refuses_is_left_to_it():
    base = PLAIN_BODIES[0]
    for odd in ({"event": None}, {"occurred_at": "2026-11-23T10:05:00"},
                {"actor": {"kind": None}}, {"changes": {"assignee": "a-3"}},
                {"comment": {"public": "true"}}, {"rating": {"score": 4, "scale": "5"}},
                {"time_entry": {"minutes": 1.0}}, {"merged_into": True}):
        assert generic_plain.load({**base, **odd}, offset_instant) is None, odd
