"""Cordial's engine: portfolio, compliance rules, dialer, telephony, voice flow, speech."""

from ivr.app import create_app

__all__ = ["create_app"]
