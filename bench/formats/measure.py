#!/usr/bin/env python3
"""Measurements of bench/formats.sh: WebP, AVIF and JPEG encodes of the photo
shop's photos, with the bytes, the encode time and the quality of each.

    measure.py PHOTO_DIR [--photos N] [--widths 640,1280] [--repeats R]
               [--quality 80] [--avif-qualities 50,55,60] [--avif-speeds 6,8]
               [--shop 100] [--shop-widths 320,640,960,1280,1920]

The first N photos of PHOTO_DIR (photo-*.jpg, by name) are decoded and resized
with Lanczos to each of --widths (height in proportion, never upscaled); that
is not timed. Each resized image is then encoded, in memory, by:
  - WebP at --quality, method 4 (libwebp's default, what the `webp` crate's
    simple encoder uses);
  - AVIF (libavif with aom) at each of --avif-qualities and --avif-speeds,
    4:2:0, max_threads=1;
  - JPEG at --quality, 4:2:0 (libjpeg-turbo; the fallback).
Each encode is repeated R times and its least CPU time kept (CPU time of the
process, so other processes' load does not count, and a second thread would).
The output is decoded again and compared with the resized image: SSIM of the
luma (Gaussian window 11, sigma 1.5, as Wang et al. 2004) and PSNR over RGB.

It prints one row per format and settings: median bytes, median encode ms and
median SSIM at each width, CPU/wall of the encodes, the bytes and encode time
relative to WebP, and the single-threaded encode time of a shop of --shop
photos at all --shop-widths, extrapolated from a fixed cost plus a per-pixel
cost fitted to the measured widths' medians. Then the AVIF quality whose SSIM
matches WebP's (the lowest of --avif-qualities at the first speed with a
median SSIM at least WebP's), and a one-line verdict on it. Needs Pillow
(with AVIF) and numpy.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def die(msg: str) -> None:
    print(f"measure.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


try:
    import numpy as np
    from PIL import Image, features
except ImportError as e:  # pragma: no cover
    die(f"{e} (run bench/formats.sh, which makes the venv)")


@dataclass
class Config:
    fmt: str  # Pillow's format name
    name: str  # as printed
    settings: str
    params: dict
    # width -> one tuple per photo: (bytes, cpu_ms, wall_ms, ssim, psnr)
    runs: dict[int, list[tuple[int, float, float, float, float]]] = field(default_factory=dict)


def ints(s: str) -> list[int]:
    try:
        v = [int(x) for x in s.replace(" ", ",").split(",") if x]
    except ValueError:
        die(f"'{s}' is not a list of integers")
    if not v or any(x <= 0 for x in v):
        die(f"'{s}' must list positive integers")
    return v


# --------------------------------------------------------------------------
# quality

_G = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
GAUSS = (_G / _G.sum()).astype(np.float64)


def _blur(x: np.ndarray) -> np.ndarray:
    """Separable 11x11 Gaussian, 'valid' (no padding)."""
    h, w = x.shape
    y = sum(GAUSS[i] * x[i : h - 10 + i, :] for i in range(11))
    return sum(GAUSS[i] * y[:, i : w - 10 + i] for i in range(11))


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = _blur(a), _blur(b)
    va = _blur(a * a) - ma * ma
    vb = _blur(b * b) - mb * mb
    cov = _blur(a * b) - ma * mb
    m = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(m.mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


# --------------------------------------------------------------------------
# encoding


def encode(im: Image.Image, c: Config) -> tuple[bytes, float, float]:
    buf = io.BytesIO()
    w0, c0 = time.perf_counter(), time.process_time()
    im.save(buf, c.fmt, **c.params)
    c1, w1 = time.process_time(), time.perf_counter()
    return buf.getvalue(), (c1 - c0) * 1000, (w1 - w0) * 1000


def measure(im: Image.Image, ref_rgb: np.ndarray, ref_y: np.ndarray, c: Config, repeats: int):
    best_cpu = best_wall = float("inf")
    data = b""
    for _ in range(repeats):
        data, cpu, wall = encode(im, c)
        best_cpu, best_wall = min(best_cpu, cpu), min(best_wall, wall)
    with Image.open(io.BytesIO(data)) as out:
        got = np.asarray(out.convert("RGB"), dtype=np.float64)
    if got.shape != ref_rgb.shape:
        die(f"{c.name} {c.settings}: decoded {got.shape}, expected {ref_rgb.shape}")
    return len(data), best_cpu, best_wall, ssim(luma(got), ref_y), psnr(got, ref_rgb)


# --------------------------------------------------------------------------
# summary


def fit(points: list[tuple[int, float]], per_px_at_largest: float) -> tuple[float, float]:
    """ms = a + b * pixels, least squares over (pixels, median ms); a pure
    per-pixel cost (a = 0) when there is one width or the fit's a < 0."""
    if len(points) >= 2:
        xs, ys = zip(*points)
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        b = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
        a = my - b * mx
        if a >= 0 and b > 0:
            return a, b
    return 0.0, per_px_at_largest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photo_dir")
    ap.add_argument("--photos", type=int, default=6)
    ap.add_argument("--widths", default="640,1280")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quality", type=int, default=80)
    ap.add_argument("--avif-qualities", default="50,55,60")
    ap.add_argument("--avif-speeds", default="6,8")
    ap.add_argument("--shop", type=int, default=100)
    ap.add_argument("--shop-widths", default="320,640,960,1280,1920")
    a = ap.parse_args()
    widths, shop_widths = ints(a.widths), ints(a.shop_widths)
    avif_q, avif_s = ints(a.avif_qualities), ints(a.avif_speeds)
    if a.photos < 1 or a.repeats < 1:
        die("--photos and --repeats must be positive")
    if not features.check("avif"):
        die("this Pillow has no AVIF support (features.check('avif') is False)")
    from PIL import _avif  # noqa: PLC0415 (only once AVIF is known to be there)

    if not _avif.encoder_codec_available("aom"):
        die("this Pillow's libavif has no aom encoder")

    photos = sorted(Path(a.photo_dir).glob("photo-*.jpg"))
    if len(photos) < a.photos:
        die(f"{a.photo_dir} has {len(photos)} photos, fewer than {a.photos}")
    photos = photos[: a.photos]

    q = a.quality
    configs = [Config("WEBP", "WebP", f"q{q} m4", dict(quality=q, method=4))]
    for s in avif_s:
        for aq in avif_q:
            configs.append(
                Config(
                    "AVIF",
                    "AVIF",
                    f"q{aq} s{s}",
                    dict(quality=aq, speed=s, max_threads=1, subsampling="4:2:0", codec="aom"),
                )
            )
    configs.append(Config("JPEG", "JPEG", f"q{q} 4:2:0", dict(quality=q, subsampling=2)))

    avif_versions = ", ".join(_avif.codec_versions().split(", ")) if hasattr(_avif, "codec_versions") else "?"
    print(
        f"encoders: Pillow {Image.__version__}: libwebp {features.version('webp')}, "
        f"libavif {features.version('avif')} ({avif_versions}), libjpeg-turbo {features.version('libjpeg_turbo')}"
    )

    aspect = None
    warmed = False
    for n, p in enumerate(photos, 1):
        with Image.open(p) as src:
            src = src.convert("RGB")
        sw, sh = src.size
        aspect = aspect or sh / sw
        ws = [w for w in widths if w < sw]
        print(f"  {p.name} ({sw}x{sh}), {n}/{len(photos)}: widths {', '.join(map(str, ws))}", flush=True)
        for w in ws:
            im = src.resize((w, round(sh * w / sw)), Image.Resampling.LANCZOS)
            ref = np.asarray(im, dtype=np.float64)
            ref_y = luma(ref)
            if not warmed:  # load each codec's code once, untimed
                for c in configs:
                    encode(im, c)
                warmed = True
            for c in configs:
                c.runs.setdefault(w, []).append(measure(im, ref, ref_y, c, a.repeats))

    med = statistics.median
    measured = [w for w in widths if w in configs[0].runs]
    if not measured:
        die("no photo is wider than any of --widths")
    base = configs[0]
    shop_px = [(w, round(w * aspect)) for w in shop_widths]

    def shop_seconds(c: Config) -> float:
        pts = [(len_px(w), med(r[1] for r in c.runs[w])) for w in measured]
        wl = measured[-1]
        per_px = med(r[1] / len_px(wl) for r in c.runs[wl])
        a0, b0 = fit(pts, per_px)
        return a.shop * sum(a0 + b0 * (w * h) for w, h in shop_px) / 1000

    def len_px(w: int) -> int:
        return w * round(w * aspect)

    def bytes_ratio(c: Config) -> float:
        return med(x[0] / y[0] for w in measured for x, y in zip(c.runs[w], base.runs[w]))

    def mean_ssim(c: Config) -> float:
        return statistics.fmean(med(r[3] for r in c.runs[w]) for w in measured)

    shop = {id(c): shop_seconds(c) for c in configs}

    # --- table ---------------------------------------------------------------
    cols = ["format", "settings"]
    cols += [f"bytes {w}" for w in measured] + [f"ms {w}" for w in measured]
    cols += ["cpu/wall"] + [f"SSIM {w}" for w in measured] + [f"PSNR {measured[-1]}"]
    cols += ["bytes/WebP", "time/WebP", f"{a.shop} photos x {len(shop_widths)} widths"]
    rows = []
    for c in configs:
        row = [c.name, c.settings]
        row += [f"{med(r[0] for r in c.runs[w]):,.0f}" for w in measured]
        row += [f"{med(r[1] for r in c.runs[w]):.1f}" for w in measured]
        row += [f"{med(r[1] / r[2] for w in measured for r in c.runs[w]):.2f}"]
        row += [f"{med(r[3] for r in c.runs[w]):.4f}" for w in measured]
        row += [f"{med(r[4] for r in c.runs[measured[-1]]):.2f} dB"]
        row += [f"{bytes_ratio(c):.2f}x", f"{shop[id(c)] / shop[id(base)]:.2f}x"]
        s = shop[id(c)]
        row += [f"{s:.1f} s" if s < 120 else f"{s:.0f} s ({s / 60:.1f} min)"]
        rows.append(row)
    wid = [max(len(x) for x in col) for col in zip(cols, *rows)]
    left = 2  # format and settings are left-aligned, numbers right-aligned

    def fmt(r: list[str]) -> str:
        return "  ".join(x.ljust(wid[i]) if i < left else x.rjust(wid[i]) for i, x in enumerate(r)).rstrip()

    print()
    print(
        f"== {len(photos)} photos ({photos[0].name} .. {photos[-1].name}), widths {', '.join(map(str, measured))}; "
        f"medians over the photos; encode ms = least CPU time of {a.repeats} encode{'s' if a.repeats > 1 else ''}, one thread"
    )
    print(fmt(cols))
    print(fmt(["-" * x for x in wid]))
    for r in rows:
        print(fmt(r))
    print()
    print(
        "bytes/WebP: median over photos and widths of each image's bytes / its WebP's bytes. "
        f"time/WebP and the last column: a shop of {a.shop} photos at widths {', '.join(map(str, shop_widths))} "
        f"({', '.join(f'{w}x{h}' for w, h in shop_px)}), one format, single-threaded CPU seconds, "
        "extrapolated (not measured) as a fixed cost per image plus a per-pixel cost fitted to the "
        f"median ms at {', '.join(map(str, measured))}. The pipeline encodes on all cores, so wall time is about "
        "that divided by the cores."
    )
    print(
        "threads: AVIF max_threads=1 (libavif passes it to aom); Pillow has no thread setting for WebP or JPEG: "
        "libwebp's thread_level stays 0 and libjpeg-turbo has one thread. cpu/wall near 1.00 confirms one "
        "thread (above 1 would be more threads; below 1, waiting for a CPU under load)."
    )
    print(
        "SSIM of the luma, PSNR over RGB, each decoded output against the resized image it was encoded from "
        "(1.0 and inf = identical)."
    )

    # --- verdict -------------------------------------------------------------
    first_speed = [c for c in configs if c.fmt == "AVIF" and c.params["speed"] == avif_s[0]]
    target = mean_ssim(base)
    match = next((c for c in first_speed if mean_ssim(c) >= target), first_speed[-1])
    aq = match.params["quality"]
    how = "the lowest" if mean_ssim(match) >= target else "none reaches it; the highest"
    print(
        f"matched quality: WebP {base.settings} has SSIM {target:.4f} (mean of the widths' medians); "
        f"AVIF q{aq} at s{avif_s[0]} has {mean_ssim(match):.4f}: {how} of q{', q'.join(map(str, avif_q))} "
        f"at s{avif_s[0]} with SSIM >= WebP's ("
        + ", ".join(f"q{c.params['quality']} {mean_ssim(c):.4f}" for c in first_speed)
        + ")"
    )
    parts, totals = [], [f"WebP {shop[id(base)]:.0f} s"]
    for s in avif_s:
        c = next(c for c in configs if c.fmt == "AVIF" and c.params == {**match.params, "speed": s})
        extra = "" if c is match else f" (SSIM {mean_ssim(c):.4f})"
        parts.append(
            f"s{s}{extra} {bytes_ratio(c):.2f}x the bytes of WebP {base.settings} "
            f"at {shop[id(c)] / shop[id(base)]:.1f}x the encode time"
        )
        totals.append(f"AVIF s{s} {shop[id(c)]:.0f} s")
    print()
    print(
        f"verdict: AVIF q{aq} (SSIM {mean_ssim(match):.4f} against WebP {base.settings}'s {target:.4f}): "
        + "; ".join(parts)
        + f" ({a.shop} photos x {len(shop_widths)} widths, one thread: {', '.join(totals)})"
    )


if __name__ == "__main__":
    main()
