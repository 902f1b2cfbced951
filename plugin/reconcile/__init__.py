"""Reconciliation: poll a host's API and store, as webhook bodies, what its webhooks missed.

``poll.py`` runs a poll or an import; ``items.py``/``bodies.py``/``template_bodies.py`` render
what it reads in each host's webhook format; ``match.py`` and ``seen.py`` skip what was
already delivered. Bodies go through the receiver's own adapters and ``store_and_enqueue``.
"""
