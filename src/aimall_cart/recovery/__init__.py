"""Abandoned-cart recovery: detection, groups, reasons, policy, alternatives, messages, outcomes."""
