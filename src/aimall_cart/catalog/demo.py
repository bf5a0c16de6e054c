"""A believable demo catalog: the same products every time, built from a seeded generator."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product as cartesian

from aimall_cart.catalog.schemas import ProductIn, VariantIn

DEMO_SEED = 20261124


@dataclass(frozen=True)
class _Category:
    slug: str
    name: str
    nouns: tuple[str, ...]
    axes: dict[str, tuple[str, ...]]
    price_range: tuple[int, int]  # minor units
    max_quantity: int = 10


_ADJECTIVES = (
    "Classic",
    "Everyday",
    "Premium",
    "Urban",
    "Coastal",
    "Nordic",
    "Heritage",
    "Studio",
    "Trail",
    "Essential",
    "Signature",
    "Compact",
    "Organic",
    "Vintage",
    "Modern",
    "Alpine",
)
_BRANDS = (
    "Northwind",
    "Lumen",
    "Kestrel",
    "Oakridge",
    "Bluefin",
    "Maple & Co",
    "Sora",
    "Vantage",
    "Halcyon",
    "Fjord",
    "Cobalt",
    "Juniper",
)
_CATEGORIES = (
    _Category(
        "apparel",
        "Apparel",
        ("T-Shirt", "Hoodie", "Rain Jacket", "Chinos", "Sweater"),
        {"color": ("black", "navy", "olive", "sand"), "size": ("S", "M", "L", "XL")},
        (1499, 12999),
    ),
    _Category(
        "footwear",
        "Footwear",
        ("Running Shoe", "Sneaker", "Hiking Boot", "Loafer"),
        {"color": ("black", "white", "grey"), "size": ("40", "41", "42", "43", "44")},
        (3999, 18999),
        4,
    ),
    _Category(
        "electronics",
        "Electronics",
        ("Wireless Earbuds", "Bluetooth Speaker", "Power Bank", "Smart Watch", "USB-C Hub"),
        {"color": ("black", "white")},
        (1999, 29999),
        5,
    ),
    _Category(
        "home",
        "Home & Kitchen",
        ("Chef Knife", "Cast Iron Pan", "French Press", "Linen Throw", "Ceramic Mug Set"),
        {"finish": ("natural", "matte black")},
        (999, 15999),
    ),
    _Category(
        "beauty",
        "Beauty",
        ("Face Serum", "Hand Cream", "Shampoo Bar", "Lip Balm"),
        {"size": ("30ml", "100ml")},
        (499, 5999),
        12,
    ),
    _Category(
        "sports",
        "Sports & Outdoors",
        ("Yoga Mat", "Water Bottle", "Daypack", "Trekking Poles", "Camping Lantern"),
        {"color": ("red", "blue", "green")},
        (1299, 17999),
    ),
    _Category(
        "toys",
        "Toys & Games",
        ("Puzzle", "Building Set", "Board Game", "Plush Bear"),
        {},
        (799, 8999),
    ),
    _Category(
        "books",
        "Books",
        ("Cookbook", "Field Guide", "Novel", "Travel Atlas"),
        {"format": ("hardcover", "paperback")},
        (899, 4999),
        20,
    ),
    _Category(
        "grocery",
        "Grocery",
        ("Single-Origin Coffee", "Green Tea", "Dark Chocolate", "Olive Oil"),
        {"size": ("250g", "500g", "1kg")},
        (399, 3999),
        24,
    ),
    _Category(
        "garden",
        "Garden",
        ("Pruning Shears", "Planter", "Watering Can", "Seed Kit"),
        {},
        (799, 6999),
    ),
    _Category(
        "pets",
        "Pets",
        ("Dog Bed", "Cat Tree", "Leash", "Pet Bowl"),
        {"size": ("S", "M", "L")},
        (999, 11999),
    ),
    _Category(
        "office",
        "Office",
        ("Notebook", "Desk Lamp", "Fountain Pen", "Monitor Stand"),
        {"color": ("black", "walnut")},
        (599, 14999),
    ),
)
SELLERS = ("seller-aurora", "seller-brightline", "seller-cascade", "seller-dune", "seller-ember")


def _variants(
    rng: random.Random, product_id: str, category: _Category, base: int
) -> list[VariantIn]:
    axes = {
        name: rng.sample(values, k=rng.randint(1, len(values)))
        for name, values in category.axes.items()
    }
    combos = [dict(zip(axes, values, strict=True)) for values in cartesian(*axes.values())] or [{}]
    variants = []
    for index, options in enumerate(combos[:12]):
        price = base + (rng.choice((0, 0, 0, 100, 200, 500)) if options else 0)
        discount = rng.choice((0, 0, 0, 0, price // 10, price // 5))
        # Some variants are sold out, a few run low, most have plenty.
        stock = rng.choice((0, 1, 2, 3, 5, 8, 15, 25, 40, 60, 100, 250))
        suffix = "-".join(v.lower().replace(" ", "") for v in options.values()) or "std"
        variants.append(
            VariantIn(
                variant_id=f"{product_id}-{suffix}" if options else f"{product_id}-{index + 1}",
                options=options,
                price=price,
                discount=discount,
                stock=stock,
            )
        )
    return variants


def demo_products(count: int = 240) -> Iterator[tuple[str, ProductIn]]:
    """``count`` products spread over every category, with variants and stock."""
    rng = random.Random(DEMO_SEED)  # noqa: S311 - demo data, not secrets
    for number in range(1, count + 1):
        category = _CATEGORIES[(number - 1) % len(_CATEGORIES)]
        noun, adjective, brand = (
            rng.choice(category.nouns),
            rng.choice(_ADJECTIVES),
            rng.choice(_BRANDS),
        )
        product_id = f"p-{number:04d}"
        low, high = category.price_range
        base = rng.randrange(low // 100, high // 100 + 1) * 100 - 1
        name = f"{brand} {adjective} {noun}"
        yield (
            product_id,
            ProductIn(
                seller_id=SELLERS[number % len(SELLERS)],
                name=name,
                description=(
                    f"The {adjective.lower()} {noun.lower()} from {brand}, "
                    f"chosen for {category.name.lower()} lovers."
                ),
                category=category.slug,
                thumbnail_url=f"https://img.aimall.example/{category.slug}/{product_id}.jpg",
                status="active" if rng.random() > 0.03 else "inactive",
                currency="USD",
                min_quantity=1,
                max_quantity=category.max_quantity,
                variants=_variants(rng, product_id, category, base),
            ),
        )
