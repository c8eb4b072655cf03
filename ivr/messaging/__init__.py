"""Messaging: the second copy of a bill by SMS or WhatsApp, and replies that opt out."""
