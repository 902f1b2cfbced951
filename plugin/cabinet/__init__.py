"""The client cabinet (SPEC §4b): one read-only page and JSON document per client company,
reached through a secret, rotatable link (see ``links``)."""
