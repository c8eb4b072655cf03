"""Telephony: the carrier interface and its adapters (Twilio, local carrier emulator)."""
