"""Promises to pay: the installment simulator (pure arithmetic) and the service
that records an agreed plan."""
