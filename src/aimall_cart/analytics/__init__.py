"""Cart analytics: daily roll-ups of the cart event log, abandonment detection, and the figures
sellers (with small groups suppressed) and admins read."""
