#!/usr/bin/env python3
"""Helpers of bench/images.sh: photos made from real photographs, and a copy
of the shop whose products use them.

    photo_shop.py photos SRC_DIR OUT_DIR COUNT [--width W] [--height H] [--quality Q] [--jobs J]
    photo_shop.py shop CONTENT OUT_DIR COUNT [--photos DIR]
    photo_shop.py hugo SHOP SITE_DIR TEMPLATE_DIR

`photos` writes OUT_DIR/photo-NNN.jpg for NNN = 0 .. COUNT-1: each is one of
the JPEG photographs in SRC_DIR (cycled through, sorted by name), cropped to
the output's aspect ratio at a position and scale that depend on NNN, mirrored
for every other round through the sources, resized with Lanczos to W x H
(default 3648 x 2432, 8.9 MP; sources smaller than that are upscaled), given a
faint luminance grain (as a camera sensor leaves: without it an upscaled photo
is smoother than a real 8 MP one and compresses better), and saved as a
baseline JPEG (quality Q, default 90, 4:2:0, no metadata). The output depends
only on NNN, the sources and the settings, so existing files are kept when
OUT_DIR/.stamp says they were made the same way, and only missing ones are
made. Needs Pillow.

`shop` writes OUT_DIR as a copy of CONTENT with its first COUNT products (by
file name): site.toml, products/*.md, and images/. With --photos, product k's
image is photos/photo-k.jpg, copied to images/<file stem>.jpg, and its front matter
`image_url` points to it (the line is added if the product had none); the
shop's other images (the SVGs) are left out. Without --photos, the products
keep their images (only the ones they use are copied). Standard library only.

`hugo` writes a Hugo site to SITE_DIR: TEMPLATE_DIR's files, plus one page
bundle per product of the shop SHOP (a content folder that `shop --photos`
wrote), content/p/<file stem>/{index.md,photo.jpg}, with the product's photo
as it is now, hard-linked when possible. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

STAMP = ".stamp"
PHOTOS_VERSION = 1  # bump when make_photo() makes different photos
GRAIN = 6  # luminance grain: uniform in [-GRAIN, +GRAIN] levels, monochrome


def die(msg: str) -> None:
    print(f"photo_shop.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


# --------------------------------------------------------------------------
# photos


def sources(src_dir: Path) -> list[Path]:
    found = sorted(p for p in src_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file())
    if not found:
        die(f"no JPEG photographs in {src_dir}")
    return found


def stamp_for(srcs: list[Path], width: int, height: int, quality: int) -> str:
    h = hashlib.sha256()
    h.update(f"v{PHOTOS_VERSION} {width}x{height} q{quality} grain{GRAIN}\n".encode())
    for s in srcs:
        h.update(f"{s.name} {s.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def plan(n: int, srcs: list[Path]) -> tuple[Path, float, float, float, bool]:
    """Which source photo number n comes from, and how it is varied."""
    src = srcs[n % len(srcs)]
    rnd = random.Random(f"photo-{n}")
    rounds = n // len(srcs)
    scale = (1.0, 0.86, 0.74)[rounds % 3]  # share of the largest crop
    fx, fy = rnd.random(), rnd.random()  # where the crop sits in the spare room
    mirror = (rounds // 3) % 2 == 1 or (rounds % 2 == 1 and scale == 1.0)
    return src, scale, fx, fy, mirror


def make_photo(job: tuple[int, str, str, int, int, int]) -> tuple[int, str, str]:
    from PIL import Image, ImageChops, ImageOps

    n, src_s, out_s, width, height, quality = job
    srcs = sources(Path(src_s))
    src, scale, fx, fy, mirror = plan(n, srcs)
    with Image.open(src) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
    sw, sh = im.size
    # The largest crop of the output's aspect ratio, then scaled down.
    cw, ch = (sw, sw * height / width) if sw / sh < width / height else (sh * width / height, sh)
    cw, ch = cw * scale, ch * scale
    x0, y0 = (sw - cw) * fx, (sh - ch) * fy
    im = im.resize((width, height), Image.Resampling.LANCZOS, box=(x0, y0, x0 + cw, y0 + ch))
    if mirror:
        im = ImageOps.mirror(im)
    # Uniform luminance grain from a seeded generator, mapped to [-GRAIN, GRAIN]
    # around 128 and added to the three channels alike.
    rnd = random.Random(f"grain-{n}")
    noise = Image.frombytes("L", (width, height), rnd.randbytes(width * height))
    noise = noise.point(lambda v: 128 - GRAIN + v * (2 * GRAIN + 1) // 256)
    im = ImageChops.add(im, Image.merge("RGB", (noise, noise, noise)), scale=1.0, offset=-128)
    out = Path(out_s) / f"photo-{n:03d}.jpg"
    tmp = out.with_suffix(".jpg.tmp")
    im.save(tmp, "JPEG", quality=quality, subsampling=2, optimize=True)
    os.replace(tmp, out)
    desc = f"{src.name} crop {scale:.0%} at ({fx:.2f},{fy:.2f}){' mirrored' if mirror else ''}"
    return n, desc, hashlib.sha256(out.read_bytes()).hexdigest()


def cmd_photos(a: argparse.Namespace) -> None:
    src_dir, out = Path(a.src_dir), Path(a.out_dir)
    srcs = sources(src_dir)
    stamp = stamp_for(srcs, a.width, a.height, a.quality)
    out.mkdir(parents=True, exist_ok=True)
    if (out / STAMP).is_file() and (out / STAMP).read_text().strip() != stamp:
        for p in out.glob("photo-*.jpg"):
            p.unlink()
    (out / STAMP).write_text(stamp + "\n")
    todo = [n for n in range(a.count) if not (out / f"photo-{n:03d}.jpg").is_file()]
    small = [s.name for s in srcs if _pixels(s) < a.width * a.height]
    print(
        f"photos: {len(srcs)} source photographs in {src_dir}"
        + (f" ({len(small)} smaller than {a.width}x{a.height}, upscaled with Lanczos)" if small else ""),
        flush=True,
    )
    if not todo:
        print(f"photos: reusing {a.count} photos in {out}")
        return
    print(f"photos: making {len(todo)} of {a.count} ({a.width}x{a.height} JPEG q{a.quality}) in {out}", flush=True)
    jobs = [(n, str(src_dir), str(out), a.width, a.height, a.quality) for n in todo]
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        for n, desc, _ in pool.map(make_photo, jobs):
            print(f"  photo-{n:03d}.jpg  {desc}", flush=True)


def _pixels(p: Path) -> int:
    from PIL import Image

    with Image.open(p) as im:
        return im.size[0] * im.size[1]


# --------------------------------------------------------------------------
# shop

FRONT = re.compile(r"\A\+\+\+\n(.*?\n)\+\+\+\n", re.S)
IMAGE_LINE = re.compile(r"^image_url\s*=.*$", re.M)
IMAGE_VALUE = re.compile(r'^image_url\s*=\s*"/images/([^"]+)"\s*$', re.M)


def cmd_shop(a: argparse.Namespace) -> None:
    content, out = Path(a.content), Path(a.out_dir)
    products = sorted((content / "products").glob("*.md"))
    if len(products) < a.count:
        die(f"{content}/products has {len(products)} products, fewer than {a.count}")
    if out.exists():
        shutil.rmtree(out)
    (out / "products").mkdir(parents=True)
    (out / "images").mkdir()
    shutil.copy2(content / "site.toml", out / "site.toml")
    if (content / "templates").is_dir():
        shutil.copytree(content / "templates", out / "templates")
    for k, md in enumerate(products[: a.count]):
        text = md.read_text(encoding="utf-8")
        m = FRONT.match(text)
        if not m:
            die(f"{md}: no +++ front matter")
        front = m.group(1)
        if a.photos:
            photo = Path(a.photos) / f"photo-{k:03d}.jpg"
            if not photo.is_file():
                die(f"{photo} is missing")
            name = f"{md.stem}.jpg"
            shutil.copyfile(photo, out / "images" / name)
            line = f'image_url = "/images/{name}"'
            front = IMAGE_LINE.sub(line, front, count=1) if IMAGE_LINE.search(front) else front + line + "\n"
            text = "+++\n" + front + "+++\n" + text[m.end() :]
        else:
            img = IMAGE_VALUE.search(front)
            if img and (content / "images" / img.group(1)).is_file():
                dst = out / "images" / img.group(1)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(content / "images" / img.group(1), dst)
        (out / "products" / md.name).write_text(text, encoding="utf-8")
    if a.photos:
        digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "images").iterdir()}
        if len(digests) != a.count:
            die(f"the {a.count} photos in {out}/images are not all distinct ({len(digests)} different SHA-256)")


# --------------------------------------------------------------------------
# hugo


def cmd_hugo(a: argparse.Namespace) -> None:
    shop, site, tpl = Path(a.shop), Path(a.site_dir), Path(a.template_dir)
    if site.exists():
        shutil.rmtree(site)
    shutil.copytree(tpl, site)
    n = 0
    for md in sorted((shop / "products").glob("*.md")):
        m = FRONT.match(md.read_text(encoding="utf-8"))
        img = IMAGE_VALUE.search(m.group(1)) if m else None
        if not img:
            die(f"{md} has no image_url under /images/")
        bundle = site / "content" / "p" / md.stem
        bundle.mkdir(parents=True)
        (bundle / "index.md").write_text(f'+++\ntitle = "{md.stem}"\n+++\n', encoding="utf-8")
        src = shop / "images" / img.group(1)
        dst = bundle / ("photo" + src.suffix.lower())
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
        n += 1
    print(f"hugo site: {n} page bundles in {site}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("photos")
    p.add_argument("src_dir")
    p.add_argument("out_dir")
    p.add_argument("count", type=int)
    p.add_argument("--width", type=int, default=3648)
    p.add_argument("--height", type=int, default=2432)
    p.add_argument("--quality", type=int, default=90)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    s = sub.add_parser("shop")
    s.add_argument("content")
    s.add_argument("out_dir")
    s.add_argument("count", type=int)
    s.add_argument("--photos")
    h = sub.add_parser("hugo")
    h.add_argument("shop")
    h.add_argument("site_dir")
    h.add_argument("template_dir")
    a = ap.parse_args()
    {"photos": cmd_photos, "shop": cmd_shop, "hugo": cmd_hugo}[a.cmd](a)


if __name__ == "__main__":
    main()
