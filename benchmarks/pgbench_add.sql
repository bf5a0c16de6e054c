-- The database's ceiling for add-to-cart: the four statements of one add as the service sends them
-- (src/aimall_cart/carts/queries.py), in one transaction, on a random benchmark cart, driven by
-- pgbench (a C client, no HTTP, no Python), as cart_load.py runs
--   pgbench -n -M prepared -j 2 -c CLIENTS -T SECONDS -D carts=N -D pairs=M -f pgbench_add.sql
-- bench_carts(n, cart_id) and bench_pairs(n, product_id, variant_id, line_key) are helper tables
-- that cart_load.py fills from the carts and lines it made, so pgbench can pick at random.
\set c random(1, :carts)
\set p random(1, :pairs)
BEGIN;
-- Claim: lock the cart, check it may change, bump its version (queries.CLAIMS).
UPDATE carts
   SET status = 'active', version = version + 1,
       locked_until = CASE WHEN status = 'locked' THEN NULL ELSE locked_until END,
       updated_at = now(), last_activity_at = now(),
       activity_mark = CASE WHEN activity_mark > now() - interval '60 seconds'
                             AND activity_mark <= now() THEN activity_mark ELSE now() END
 WHERE id = (SELECT cart_id FROM bench_carts WHERE n = :c)
   AND status IN ('active', 'locked') AND (status = 'active' OR locked_until <= now())
RETURNING id AS cart_id \gset
-- Read it back: the cart, its code, lines, live offers and free stock (queries.CART_BY_ID).
SELECT c.id, c.user_id, c.status, c.currency, c.version, c.locked_until, c.created_at,
       c.updated_at, d.code, d.percent, d.expires_at, d.redeemed_at,
       ci.id AS line_id, ci.line_key, ci.product_id, ci.variant_id, ci.name, ci.thumbnail_url,
       ci.options, ci.quantity, ci.unit_price, ci.discount, ci.created_at,
       v.id, v.status = 'active' AND p.status = 'active' AS sold, v.price, v.discount,
       p.min_quantity, p.max_quantity,
       i.on_hand - i.reserved
         + (SELECT coalesce(sum(r.quantity), 0) FROM reservations r
             WHERE r.variant_id = ci.variant_id AND r.status = 'held' AND r.expires_at <= now())
         + CASE WHEN c.status = 'locked' THEN
             (SELECT coalesce(sum(r.quantity), 0) FROM reservations r
               WHERE r.variant_id = ci.variant_id AND r.holder_id = c.id AND r.status = 'held'
                 AND r.expires_at > now())
           ELSE 0 END AS free
  FROM carts c
  LEFT JOIN discount_codes d ON d.id = c.discount_code_id
  LEFT JOIN cart_items ci ON ci.cart_id = c.id
  LEFT JOIN variants v ON v.id = ci.variant_id
  LEFT JOIN products p ON p.id = v.product_id
  LEFT JOIN inventory i ON i.variant_id = ci.variant_id
 WHERE c.id = :cart_id
 ORDER BY ci.created_at, ci.id;
-- The product it adds, every variant with its free stock (queries.PRODUCT_WITH_VARIANTS).
SELECT bp.line_key, p.id AS product_id, p.name, coalesce(p.thumbnail_url, '') AS thumb,
       p.status, p.currency, p.min_quantity, p.max_quantity, v.id AS variant_id,
       v.options::text AS options, v.price, v.discount, v.status AS variant_status,
       i.on_hand - i.reserved
         + (SELECT coalesce(sum(r.quantity), 0) FROM reservations r
             WHERE r.variant_id = v.id AND r.status = 'held' AND r.expires_at <= now()) AS free
  FROM bench_pairs bp
  JOIN products p ON p.id = bp.product_id
  LEFT JOIN variants v ON v.product_id = p.id
  LEFT JOIN inventory i ON i.variant_id = v.id
 WHERE bp.n = :p AND v.id = bp.variant_id \gset
-- The line: a new one, or one more unit on the line of the same product, variant and options
-- (the service knows which from the read and sends one of the two; one statement either way).
INSERT INTO cart_items (id, cart_id, line_key, product_id, variant_id, name, thumbnail_url,
                        options, quantity, unit_price, discount, created_at, updated_at)
VALUES (gen_random_uuid(), :cart_id, :line_key, :product_id, :variant_id, :name,
        nullif(:thumb, ''), CAST(:options AS json), 1, :price, :discount, now(), now())
ON CONFLICT (cart_id, line_key)
DO UPDATE SET quantity = cart_items.quantity + 1, updated_at = excluded.updated_at;
COMMIT;
