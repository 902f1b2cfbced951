"""Quality reports: stored per-ticket facts, the KPIs of SPEC §5, and their interfaces.

``record.record_event`` keeps :class:`~plugin.reports.models.TicketMetrics` current inside the
processing transaction; ``queries.build_report`` aggregates them; the CLI, the JSON API, the
dashboard and the digests all render that one report.
"""
