"""RQ jobs. Each job takes ids and ``now`` as arguments and finds its context itself."""
