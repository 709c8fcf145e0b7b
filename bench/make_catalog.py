#!/usr/bin/env python3
"""Write a synthetic shop content folder for the build benchmark.

    python3 bench/make_catalog.py N OUTDIR [--seed S] [--content DIR]

OUTDIR gets the same layout as content/:

    site.toml             the keys of content/site.toml, with products_per_page = 24
    products/<slug>.md    N products: TOML front matter between +++ lines, then Markdown
    images/*.svg          the SVGs of content/images, shared by all the products
    .catalog-stamp        N, seed and a hash of this script (lets bench/build.sh reuse it)

The output is deterministic for a given N and seed. OUTDIR is written under a
temporary name and renamed into place, so an interrupted run never leaves a
half-written catalog behind. An existing OUTDIR is only replaced if it was
written by this script (it has .catalog-stamp) or is empty.

Python 3.11 standard library only. Prices are built from integers, never floats.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import sys
import time
import tomllib
from datetime import datetime, timezone
from pathlib import Path

STAMP = ".catalog-stamp"
HERE = Path(__file__).resolve().parent
DEFAULT_CONTENT = HERE.parent / "content"

# --------------------------------------------------------------------------
# Vocabulary

CATEGORY_BASES = [
    "Kitchen", "Coffee & Tea", "Home Office", "Lighting", "Garden", "Outdoors",
    "Textiles", "Stationery", "Bath", "Tableware", "Cookware", "Bakeware",
    "Storage", "Desk Accessories", "Camping", "Hiking", "Candles & Scent",
    "Plant Care", "Bedding", "Rugs & Mats", "Wall Decor", "Furniture", "Tools",
    "Cycling", "Travel", "Pet Supplies", "Kids & Play", "Art Supplies",
    "Paper Goods", "Bags", "Knitwear", "Pantry", "Barware", "Laundry",
    "Cleaning", "Seating", "Picnic", "Grilling", "Workshop", "Sewing",
    "Gift Sets", "Clocks", "Mirrors", "Vases", "Baskets", "Glassware",
    "Cutlery", "Linen",
]
CATEGORY_QUALIFIERS = [
    "Essentials", "Classics", "Studio", "Heritage", "Everyday", "Atelier",
    "Field", "Nordic", "Archive", "Small Batch",
]

ADJECTIVES = [
    "Rustic", "Hand-Thrown", "Hand-Forged", "Classic", "Compact", "Folding",
    "Heavy-Duty", "Lightweight", "Stackable", "Minimal", "Brushed", "Hammered",
    "Speckled", "Matte", "Glazed", "Oiled", "Waxed", "Woven", "Quilted",
    "Ribbed", "Tall", "Low", "Wide", "Slim", "Round", "Square", "Oval",
    "Nordic", "Alpine", "Coastal", "Heritage", "Everyday", "Weekend",
    "Studio", "Workshop", "Field", "Harbour", "Meadow", "Forest", "Canyon",
    "Smoked", "Frosted", "Two-Tone", "Striped", "Checked", "Herringbone",
    "Double-Walled", "Insulated", "Reversible", "Adjustable",
]
MATERIALS = [
    "Oak", "Walnut", "Ash", "Beech", "Cherry", "Maple", "Olive Wood",
    "Bamboo", "Cedar", "Teak", "Cork", "Linen", "Cotton", "Wool", "Merino",
    "Alpaca", "Leather", "Waxed Canvas", "Felt", "Jute", "Hemp", "Stoneware",
    "Porcelain", "Terracotta", "Enamel", "Cast Iron", "Carbon Steel",
    "Stainless Steel", "Copper", "Brass", "Bronze", "Aluminium", "Titanium",
    "Glass", "Marble", "Slate", "Concrete", "Rattan", "Wicker", "Paper",
]
NOUNS = [
    "Mug", "Cup", "Bowl", "Plate", "Platter", "Tray", "Jug", "Pitcher",
    "Teapot", "Kettle", "Dripper", "Grinder", "Canister", "Jar", "Tin",
    "Box", "Basket", "Crate", "Shelf", "Stool", "Bench", "Chair", "Desk",
    "Lamp", "Sconce", "Pendant", "Lantern", "Candle Holder", "Vase",
    "Planter", "Pot", "Trowel", "Watering Can", "Apron", "Blanket", "Throw",
    "Cushion Cover", "Napkin Set", "Tablecloth", "Tea Towel", "Notebook",
    "Journal", "Pen Tray", "Desk Organizer", "Pencil Case", "Backpack",
    "Tote", "Wallet", "Scarf", "Beanie", "Socks", "Cutting Board",
    "Skillet", "Saucepan", "Dutch Oven", "Spoon Set", "Knife", "Ladle",
    "Colander", "Salad Servers", "Coasters", "Bookends", "Clock", "Mirror",
    "Hook Rail", "Coat Rack", "Doormat", "Bath Mat", "Towel", "Soap Dish",
]
PLACES = [
    "Portugal", "Japan", "Ireland", "Scotland", "Denmark", "Sweden",
    "northern Italy", "the Basque Country", "Vermont", "Oaxaca", "Kyoto",
    "Lisbon", "Wales", "Cornwall", "Brittany", "Bavaria", "Peru",
    "our workshop",
]
FINISHES = [
    "a hard-wax oil", "a food-safe mineral oil", "a clear satin lacquer",
    "a reactive glaze", "a soft matte glaze", "beeswax", "a brushed finish",
    "a powder coat", "an unbleached natural finish", "a hand-rubbed patina",
]
USES = [
    "slow weekend breakfasts", "a busy home office", "small flats",
    "long evenings on the porch", "everyday cooking", "weekend camping trips",
    "the coffee corner", "a well-kept potting shed", "guest rooms",
    "gifting", "the first cold mornings of autumn", "a tidy entryway",
]
QUALITIES = [
    "durable", "quietly handsome", "easy to care for", "built to last",
    "pleasingly heavy", "light enough to carry", "surprisingly roomy",
    "comfortable in the hand", "easily repaired", "good-looking",
]

SENTENCES = [
    "A {q} {n} in {m}, made for {u}.",
    "Each piece is made by hand in {p} and finished with {f}.",
    "The {m} develops a {patina} over time, so no two look quite alike after a few years of use.",
    "We worked with a small family maker in {p} to get the proportions exactly right.",
    "It is {q} and {q2}, and it fits neatly alongside the rest of the range.",
    "Designed for {u}, it is as happy on a shelf as it is in daily use.",
    "Small variations in colour and grain are part of the character of the {m}.",
    "The edges are softened by hand, and the base is finished so it will not scratch a table.",
    "If it ever needs attention, a little {care2} brings it straight back.",
    "We have used ours every day for over a year and it still looks new.",
    "It arrives in {pack} packaging that is plastic-free and fully recyclable.",
    "Pair it with something from the same collection for a set that feels considered rather than matched.",
    "Compared with mass-produced versions it is {cmp}, and you can feel the difference the first time you pick it up.",
    "Made in limited runs, so each batch may differ slightly in tone.",
    "The {n} is {q}, with careful joints and no visible glue or staples.",
]
BOLD_SENTENCES = [
    "It comes with **a lifetime guarantee**.",
    "We offer **free repairs for five years**.",
    "It is made from **solid {m}** throughout.",
    "Each one is **made to order**.",
    "Every piece is **hand-finished**.",
    "It is covered by **a ten-year warranty**.",
    "We use only **sustainably sourced {m}**.",
]
SPEC_LINES = [
    "Dimensions: {a} x {b} x {c} cm",
    "Weight: {w} g",
    "Material: {m}",
    "Finish: {f}",
    "Made in {p}",
    "Care: {care}",
    "Capacity: {cap} ml",
    "Dishwasher safe: {yn}",
    "Ships flat-packed: {yn}",
]
CARE = [
    "hand wash only", "wipe clean with a damp cloth", "machine wash at 30 °C",
    "re-oil twice a year", "dry clean", "keep out of direct sunlight",
]
LINKS = [
    "[care guide](https://shop.example.com/care/)",
    "[delivery and returns](https://shop.example.com/delivery/)",
    "[the maker's story](https://journal.example.com/makers/)",
    "[sizing chart](https://shop.example.com/sizing/)",
]
PATINAS = ["warm patina", "gentle sheen", "soft lustre", "deeper colour"]
PACKAGING = ["simple", "sturdy", "unprinted", "compact"]
COMPARISONS = ["heavier", "quieter", "sturdier", "better balanced", "more refined"]
CARE_PRODUCTS = ["hard-wax oil", "beeswax", "mineral oil", "warm soapy water", "linseed oil"]


# --------------------------------------------------------------------------
# Generation


def slugify(text: str) -> str:
    text = text.lower().replace("&", "-")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def categories_for(n: int) -> list[str]:
    count = max(8, n // 2500)
    names: list[str] = []
    for k in range(count):
        base = CATEGORY_BASES[k % len(CATEGORY_BASES)]
        round_ = k // len(CATEGORY_BASES)
        if round_ == 0:
            names.append(base)
        elif round_ <= len(CATEGORY_QUALIFIERS):
            names.append(f"{base} {CATEGORY_QUALIFIERS[round_ - 1]}")
        else:
            names.append(f"{base} Collection {round_}")
    assert len({slugify(c) for c in names}) == len(names), "category slugs collide"
    return names


def price_text(rng: random.Random) -> str:
    """A price as exact decimal text, from integer euros and cents."""
    tier = rng.random()
    if tier < 0.35:
        euros = rng.randint(3, 29)
    elif tier < 0.75:
        euros = rng.randint(30, 149)
    elif tier < 0.95:
        euros = rng.randint(150, 599)
    else:
        euros = rng.randint(600, 2499)
    cents = rng.choice((0, 0, 0, 50, 90, 95, 99))
    return f"{euros}.{cents:02d}"


def timestamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


T_START = int(datetime(2023, 1, 1, tzinfo=timezone.utc).timestamp())
T_END = int(datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp())


def description(rng: random.Random, m: str, n: str, category_slug: str) -> str:
    """60-120 words of Markdown: prose, sometimes bold, a list, a link."""
    lower_m = m.lower()
    lower_n = n.lower()
    target = rng.randint(60, 100)  # each sentence adds at most ~20 words
    words = 0
    paragraphs: list[str] = []

    bullets: list[str] = []
    if rng.random() < 1 / 3:
        for line in rng.sample(SPEC_LINES, rng.randint(3, 5)):
            item = line.format(
                a=rng.randint(5, 120), b=rng.randint(5, 80), c=rng.randint(2, 60),
                w=rng.randint(80, 9000), m=lower_m, f=rng.choice(FINISHES),
                p=rng.choice(PLACES), care=rng.choice(CARE),
                cap=rng.randrange(150, 2000, 50), yn=rng.choice(("yes", "no")),
            )
            bullets.append(f"- {item}")
            words += len(item.split())

    link = ""
    r = rng.random()
    if r < 0.15:
        link = f"See our {rng.choice(LINKS)} for details."
    elif r < 0.25:
        link = f"Browse more in [the same category](/categories/{category_slug}/)."
    words += len(link.split())

    bold_left = 1 if rng.random() < 0.6 else 0
    para: list[str] = []
    order = rng.sample(SENTENCES, len(SENTENCES))
    i = 0
    while words < target:
        s = order[i % len(order)].format(
            q=rng.choice(QUALITIES), q2=rng.choice(QUALITIES), n=lower_n, m=lower_m,
            u=rng.choice(USES), p=rng.choice(PLACES), f=rng.choice(FINISHES),
            care2=rng.choice(CARE_PRODUCTS), patina=rng.choice(PATINAS),
            pack=rng.choice(PACKAGING), cmp=rng.choice(COMPARISONS),
        )
        i += 1
        if bold_left and i == 2:
            s = rng.choice(BOLD_SENTENCES).format(m=lower_m) + " " + s
            bold_left = 0
        para.append(s)
        words += len(s.split())
        if len(para) >= 3 and rng.random() < 0.4:
            paragraphs.append(" ".join(para))
            para = []
    if para:
        paragraphs.append(" ".join(para))

    if bullets:
        heading = "**Specifications**\n\n" if rng.random() < 0.5 else ""
        paragraphs.insert(min(1, len(paragraphs)), heading + "\n".join(bullets))
    if link:
        paragraphs.append(link)
    return "\n\n".join(paragraphs) + "\n"


def write_catalog(n: int, out: Path, seed: int, content: Path) -> None:
    rng = random.Random(seed)
    images = sorted(p.name for p in (content / "images").glob("*.svg"))
    if not images:
        sys.exit(f"error: no SVG images in {content / 'images'}")
    (out / "images").mkdir(parents=True)
    for name in images:
        shutil.copyfile(content / "images" / name, out / "images" / name)

    site_text = (content / "site.toml").read_text(encoding="utf-8")
    site_text, subs = re.subn(
        r"(?m)^products_per_page\s*=.*$", "products_per_page = 24", site_text
    )
    if subs == 0:
        site_text = site_text.rstrip("\n") + "\nproducts_per_page = 24\n"
    assert tomllib.loads(site_text)["products_per_page"] == 24
    (out / "site.toml").write_text(site_text, encoding="utf-8")

    categories = categories_for(n)
    cat_slugs = [slugify(c) for c in categories]
    # Zipf-like sizes: some categories are much bigger than others.
    weights = [1.0 / (k + 1) ** 0.6 for k in range(len(categories))]
    cat_of = rng.choices(range(len(categories)), weights=weights, k=n)

    products = out / "products"
    products.mkdir()
    width = len(str(n))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i in range(n):
        adj = rng.choice(ADJECTIVES)
        mat = rng.choice(MATERIALS)
        noun = rng.choice(NOUNS)
        number = str(i + 1).zfill(width)
        name = f"{adj} {mat} {noun} No. {number}"
        slug = slugify(name)
        c = cat_of[i]
        stock = 0 if rng.random() < 0.05 else rng.randint(1, 80)
        created = rng.randint(T_START, T_END)
        updated = created + (0 if rng.random() < 0.3 else rng.randint(60, 400 * 86400))
        text = (
            "+++\n"
            f"id = {i + 1}\n"
            f'name = "{name}"\n'
            f'price = "{price_text(rng)}"\n'
            f'category = "{categories[c]}"\n'
            f'image_url = "/images/{images[rng.randrange(len(images))]}"\n'
            f"stock_quantity = {stock}\n"
            f"created_at = {timestamp(created)}\n"
            f"updated_at = {timestamp(updated)}\n"
            "+++\n"
            + description(rng, mat, noun, cat_slugs[c])
        )
        fd = os.open(products / f"{slug}.md", flags, 0o644)
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)

    (out / STAMP).write_text(stamp(n, seed), encoding="utf-8")


def stamp(n: int, seed: int) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return f"products={n} seed={seed} script={digest}\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="number of products")
    ap.add_argument("outdir", type=Path, help="content folder to write")
    ap.add_argument("--seed", type=int, default=20260105)
    ap.add_argument("--content", type=Path, default=DEFAULT_CONTENT,
                    help="the real content folder to take site.toml and images from")
    ap.add_argument("--print-stamp", action="store_true",
                    help="print the stamp this run would write and exit")
    args = ap.parse_args()
    if args.n < 1:
        ap.error("N must be at least 1")
    if args.print_stamp:
        sys.stdout.write(stamp(args.n, args.seed))
        return

    out: Path = args.outdir.resolve()
    if out.exists() and not (out / STAMP).is_file() and any(out.iterdir()):
        sys.exit(f"error: {out} exists and was not written by make_catalog.py; "
                 "remove it or choose another OUTDIR")
    started = time.monotonic()
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        write_catalog(args.n, tmp, args.seed, args.content)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    print(f"wrote {args.n} products to {out} in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
