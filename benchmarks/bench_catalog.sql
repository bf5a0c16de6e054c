-- Applied to a throwaway benchmark database after `aimall-cart seed --demo`, before serving it
-- (by cart_load.py and deploy/local-cluster.sh; the same SQL on PostgreSQL and SQLite).
-- The demo catalog gives variants 0 to 250 units and caps a line at 4 to 24 units; a long run
-- adds far more than that to the same lines, and a benchmark of the cart must not turn into a
-- benchmark of insufficient_stock and quantity_out_of_range answers. Statuses stay as seeded:
-- the load only ever adds active variants of active products.
UPDATE inventory SET on_hand = 1000000000, reserved = 0;
UPDATE products SET max_quantity = 1000000;
