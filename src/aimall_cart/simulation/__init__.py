"""The synthetic market that drives the real services to measure abandoned-cart recovery.

An entrypoint-level client: it may import any feature, and nothing imports it but the CLI.
Its charts need the optional ``sim`` extra (matplotlib).
"""
