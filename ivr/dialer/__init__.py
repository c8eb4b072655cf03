"""The dialer: plans, claims, paces and places calls; one or many workers."""
