"""The parts of ``benchmarks/cart_load.py``: its command line, the measurements it runs, what a
run stands on, the carts it makes, the load generators it drives, and the report it prints."""
