"""The outbox: host commands written with the decision, then pushed to the host."""
