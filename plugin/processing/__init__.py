"""Event processing: a stored webhook -> the rules -> one transaction of ticket state,
credits, outbox rows and timers.

``process.py`` is the RQ job (each job takes ids and ``now`` and finds its context itself),
``apply.py`` writes a decision, ``timers.py`` arms the ticket timers and ``firing.py`` fires
the due ones through the same apply; ``state.py``/``tickets.py``/``credits.py`` load the facts.
"""
