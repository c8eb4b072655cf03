"""Compliance: the pure rules that decide whether a call may be placed, and why not."""
