"""Reconciliation: poll a host's API and store, as webhook bodies, what its webhooks missed."""
