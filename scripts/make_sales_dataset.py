"""Generate ``datasets/sales.csv``: 200 deterministic orders from 2025 for the demo.

Run ``python scripts/make_sales_dataset.py``; the output is committed, so this only
needs running again when the table should change. ``random.Random(7)`` makes every
run produce the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

ROWS = 200
REGIONS = ("North", "South", "East", "West")
# product: (category, list price)
PRODUCTS: dict[str, tuple[str, float]] = {
    "Laptop": ("Electronics", 1199.00),
    "Monitor": ("Electronics", 289.00),
    "Headphones": ("Electronics", 149.00),
    "Keyboard": ("Electronics", 79.00),
    "Desk": ("Furniture", 449.00),
    "Office Chair": ("Furniture", 329.00),
    "Bookshelf": ("Furniture", 189.00),
    "Printer Paper": ("Office Supplies", 8.99),
    "Pens (12-pack)": ("Office Supplies", 6.49),
    "Stapler": ("Office Supplies", 14.99),
    "Notebook": ("Office Supplies", 4.25),
}
# Cheap items sell in bulk, expensive ones one or two at a time.
MAX_UNITS = {"Electronics": 5, "Furniture": 4, "Office Supplies": 40}
REGION_WEIGHTS = (0.3, 0.2, 0.28, 0.22)


OUT = Path(__file__).resolve().parent.parent / "datasets" / "sales.csv"


def main(out: Path = OUT) -> None:
    rng = random.Random(7)
    start = dt.date(2025, 1, 1)
    days = sorted(rng.randrange(365) for _ in range(ROWS))
    products = list(PRODUCTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            [
                "order_id",
                "order_date",
                "region",
                "product",
                "category",
                "units",
                "unit_price",
                "revenue",
            ]
        )
        for index, day in enumerate(days):
            product = rng.choice(products)
            category, list_price = PRODUCTS[product]
            region = rng.choices(REGIONS, weights=REGION_WEIGHTS)[0]
            units = rng.randint(1, MAX_UNITS[category])
            # Occasional discounts of 5-15 %, as in real order books.
            discount = rng.choice((0.0, 0.0, 0.0, 0.05, 0.10, 0.15))
            unit_price = round(list_price * (1 - discount), 2)
            writer.writerow(
                [
                    1001 + index,
                    (start + dt.timedelta(days=day)).isoformat(),
                    region,
                    product,
                    category,
                    units,
                    f"{unit_price:.2f}",
                    f"{units * unit_price:.2f}",
                ]
            )


if __name__ == "__main__":
    main()
