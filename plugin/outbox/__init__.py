"""The outbox: host commands written in the decision's transaction, then pushed to the host.

``rows.py`` (the table and its writers), ``commands.py``/``coalesce.py`` (what a row asks of a
host), ``push.py`` (the push job: claim, send, back off) and ``inline.py`` (the same push
right after the processing commit). The host clients of :mod:`plugin.hosts` carry it out.
"""
