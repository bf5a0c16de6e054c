"""Preferences and consent, export, erasure and retention."""
