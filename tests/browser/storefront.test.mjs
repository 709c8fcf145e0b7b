// End-to-end test of the built storefront in real headless Chromium.
//
// Builds the site with the generator binary into a fresh temp folder, serves it
// with a tiny static server on 127.0.0.1, and drives Debian's Chromium through
// playwright-core (no browser is ever downloaded).
//
// Run from the repository root, after `cargo build`:
//   npm ci --prefix tests/browser    (once)
//   node --test tests/browser/
//
// Environment:
//   GENERATOR_BIN   the generator binary (default: <repo>/target/debug/generator;
//                   a relative path is taken from the repository root)
//   CHROMIUM_PATH   the Chromium binary (default: /usr/bin/chromium)
//
// Screenshots are written to <repo>/artifacts/screenshots/.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import { chromium } from "playwright-core";

import { CHROMIUM_ARGS, CHROMIUM_PATH, GENERATOR_BIN, REPO_ROOT, SCREENSHOT_DIR } from "./settings.mjs";

const execFileAsync = promisify(execFile);

// Generous limits for a slow, shared 2-core machine. These are ceilings for
// Playwright's own waiting, never sleeps.
const WAIT_MS = 15_000;
const NAV_MS = 30_000;
const TEST_MS = 180_000;

// ---------------------------------------------------------------------------
// Helpers that need no browser.

/** "249.00" -> 24900n. Exact: never goes through a float. */
function cents(price) {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(price).trim());
  assert.ok(m, `not a plain decimal price: ${JSON.stringify(price)}`);
  return BigInt(m[1]) * 100n + BigInt((m[2] || "").padEnd(2, "0"));
}

/** Lower-case and strip accents, as a shopper's query would be compared. */
function fold(text) {
  return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".xml": "application/xml; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".gif": "image/gif",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".webmanifest": "application/manifest+json",
};

/**
 * A static file server for `root` on 127.0.0.1 and a free port, behaving like
 * a typical static host: `/dir/` serves `/dir/index.html`, `/dir` redirects to
 * `/dir/`, and anything missing gets `/404.html` with status 404.
 */
async function startStaticServer(root) {
  const rootWithSep = root.endsWith(path.sep) ? root : root + path.sep;

  async function fileAt(urlPath) {
    const target = path.resolve(root, "." + urlPath);
    if (target !== root && !target.startsWith(rootWithSep)) return null;
    try {
      const st = await fs.stat(target);
      return { target, st };
    } catch {
      return null;
    }
  }

  async function send(req, res, status, file) {
    const body = await fs.readFile(file);
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] || "application/octet-stream";
    res.writeHead(status, {
      "Content-Type": type,
      "Content-Length": body.length,
      "Cache-Control": "no-cache",
      "X-Content-Type-Options": "nosniff",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  async function handle(req, res) {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" });
      res.end("method not allowed\n");
      return;
    }
    const url = new URL(req.url, "http://127.0.0.1");
    let urlPath;
    try {
      urlPath = decodeURIComponent(url.pathname);
    } catch {
      urlPath = null;
    }
    if (urlPath !== null && !urlPath.includes("\0")) {
      const found = await fileAt(urlPath);
      if (found && found.st.isDirectory()) {
        if (!urlPath.endsWith("/")) {
          res.writeHead(301, { Location: url.pathname + "/" + url.search });
          res.end();
          return;
        }
        const index = await fileAt(path.posix.join(urlPath, "index.html"));
        if (index && index.st.isFile()) return send(req, res, 200, index.target);
      } else if (found && found.st.isFile()) {
        return send(req, res, 200, found.target);
      }
    }
    const notFound = path.join(root, "404.html");
    try {
      await send(req, res, 404, notFound);
    } catch {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("not found\n");
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(String(err && err.stack ? err.stack : err));
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

// ---------------------------------------------------------------------------
// Helpers around a page.

/**
 * Opens `url` in a new page of `context`, recording console errors, uncaught
 * page errors, failed requests and HTTP responses >= 400 from the start.
 */
async function openPage(context, url) {
  const page = await context.newPage();
  const issues = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") {
      const loc = msg.location();
      issues.push({ kind: "console.error", url: loc && loc.url, text: msg.text() });
    }
  });
  page.on("pageerror", (err) => issues.push({ kind: "pageerror", text: String(err && err.stack ? err.stack : err) }));
  page.on("requestfailed", (req) =>
    issues.push({ kind: "requestfailed", url: req.url(), text: (req.failure() || {}).errorText || "" }),
  );
  page.on("response", (res) => {
    if (res.status() >= 400) issues.push({ kind: `HTTP ${res.status()}`, url: res.url(), text: res.statusText() });
  });
  const response = await page.goto(url, { waitUntil: "load" });
  return { page, issues, response };
}

/**
 * Loads every image (lazy ones too, so full-page screenshots are complete and
 * broken images surface), then waits until the network is quiet.
 */
async function settle(page) {
  await page.evaluate(() => {
    for (const img of document.querySelectorAll('img[loading="lazy"]')) img.loading = "eager";
  });
  await page.waitForFunction(() => [...document.images].every((img) => img.complete), null, {
    timeout: WAIT_MS,
  });
  await page.waitForLoadState("networkidle", { timeout: WAIT_MS });
  const broken = await page.evaluate(() =>
    [...document.images].filter((img) => img.naturalWidth === 0).map((img) => img.currentSrc || img.src),
  );
  assert.deepEqual(broken, [], `${page.url()}: images that did not decode`);
}

function assertNoIssues(issues, where) {
  assert.deepEqual(
    issues,
    [],
    `${where}: expected no console errors, page errors, failed requests or HTTP errors, got:\n` +
      issues.map((i) => `  [${i.kind}] ${i.url || ""} ${i.text || ""}`).join("\n"),
  );
}

async function screenshot(page, name) {
  await fs.mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, name), fullPage: true, timeout: NAV_MS });
}

/** What the search page currently shows. */
async function readSearch(page) {
  return page.evaluate(() => ({
    status: document.getElementById("search-status").textContent.trim(),
    search: location.search,
    results: [...document.querySelectorAll("#search-results li.card")].map((li) => ({
      name: (li.querySelector(".card-name") || {}).textContent?.trim() ?? "",
      href: new URL(li.querySelector("a").getAttribute("href"), location.href).pathname,
      text: li.textContent.replace(/\s+/g, " ").trim(),
    })),
  }));
}

/**
 * Waits until the search page has finished a run whose URL query string is
 * exactly `expectedQuery` (the page writes the query string after rendering
 * the results), and returns what it shows.
 */
async function waitForSearch(page, expectedQuery) {
  try {
    await page.waitForFunction(
      (expected) => {
        const status = document.getElementById("search-status").textContent;
        const params = new URLSearchParams(location.search);
        params.sort();
        const want = new URLSearchParams(expected);
        want.sort();
        return /products? found|No products match/.test(status) && params.toString() === want.toString();
      },
      expectedQuery,
      { timeout: WAIT_MS },
    );
  } catch (err) {
    const now = await readSearch(page).catch(() => null);
    throw new Error(
      `search page never reached query ${JSON.stringify(expectedQuery)}; ` +
        `it shows ${JSON.stringify(now && { status: now.status, search: now.search, count: now.results.length })}`,
      { cause: err },
    );
  }
  return readSearch(page);
}

function foundCount(status) {
  const m = /^(\d+) products? found\./.exec(status);
  assert.ok(m, `status line should say how many products were found, got ${JSON.stringify(status)}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------

describe("storefront in headless Chromium", () => {
  let tmpDir;
  let siteDir;
  let server;
  let browser;
  let context;
  let base;
  let catalog; // products.json
  let byUrl; // product url path -> product
  let byName; // product name -> product
  const visited = {}; // urls discovered along the way

  before(async () => {
    try {
      await fs.access(GENERATOR_BIN, fsConstants.X_OK);
    } catch {
      throw new Error(
        `The generator binary was not found at ${GENERATOR_BIN}. ` +
          `Run \`cargo build\` in ${REPO_ROOT} first (or set GENERATOR_BIN to the binary).`,
      );
    }
    try {
      await fs.access(CHROMIUM_PATH, fsConstants.X_OK);
    } catch {
      throw new Error(
        `Chromium was not found at ${CHROMIUM_PATH}. Install Debian's chromium package ` +
          `(apt-get install chromium) or set CHROMIUM_PATH; this test never downloads a browser.`,
      );
    }

    tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), "shopfront-browser-"));
    siteDir = path.join(tmpDir, "site");
    try {
      await execFileAsync(
        GENERATOR_BIN,
        [
          "build",
          "--content",
          path.join(REPO_ROOT, "content"),
          "--themes",
          path.join(REPO_ROOT, "themes"),
          "--out",
          siteDir,
        ],
        { cwd: REPO_ROOT, timeout: 120_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, CI: "1" } },
      );
    } catch (err) {
      throw new Error(`the generator failed to build the site:\n${err.stderr || ""}${err.stdout || ""}`, {
        cause: err,
      });
    }

    catalog = JSON.parse(await fs.readFile(path.join(siteDir, "products.json"), "utf8"));
    assert.ok(Array.isArray(catalog.products) && catalog.products.length > 0, "products.json lists no products");
    byUrl = new Map(catalog.products.map((p) => [new URL(p.url, "http://x").pathname, p]));
    byName = new Map(catalog.products.map((p) => [p.name, p]));

    server = await startStaticServer(siteDir);
    base = server.origin;

    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: NAV_MS,
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(NAV_MS);
  });

  after(async () => {
    // Each step is independent so one failure does not leak the others.
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.close().catch(() => {});
    if (tmpDir) await fs.rm(tmpDir, { recursive: true, force: true }).catch(() => {});
  });

  /**
   * The first category nav link and the first product card on the home page,
   * found once (by the home page test, or here when a test runs on its own).
   */
  async function discover(t) {
    if (!visited.category || !visited.product) {
      const { page } = await open(t, base + "/");
      await readHomeLinks(page);
    }
    return visited;
  }

  async function readHomeLinks(page) {
    const categoryHref = await page.locator('header nav[aria-label="Categories"] a').first().getAttribute("href");
    assert.ok(categoryHref, "home page has a category nav link");
    const card = page.locator("main li.card a.card-link").first();
    const productHref = await card.getAttribute("href");
    assert.ok(productHref, "home page has a product card link");
    visited.category = new URL(categoryHref, base).href;
    visited.product = new URL(productHref, base).href;
    visited.productName = (await card.locator(".card-name").textContent()).trim();
  }

  /** Opens a page and closes it once the calling test is over, pass or fail. */
  async function open(t, url, ctx = context) {
    const opened = await openPage(ctx, url);
    t.after(() => opened.page.close().catch(() => {}));
    return opened;
  }

  test("static server serves the built site with proper types", { timeout: TEST_MS }, async () => {
    const cases = [
      ["/", "text/html", 200],
      ["/search/", "text/html", 200],
      ["/products.json", "application/json", 200],
      ["/sitemap.xml", "application/xml", 200],
      ["/robots.txt", "text/plain", 200],
      ["/definitely-not-here/", "text/html", 404],
    ];
    for (const [p, type, status] of cases) {
      const res = await fetch(base + p);
      assert.equal(res.status, status, `${p} status`);
      assert.ok(res.headers.get("content-type").startsWith(type), `${p} content-type ${res.headers.get("content-type")}`);
      await res.arrayBuffer();
    }
  });

  test("home page", { timeout: TEST_MS }, async (t) => {
    const { page, issues, response } = await open(t, base + "/");
    assert.equal(response.status(), 200);
    await settle(page);

    assert.ok((await page.locator("h1").count()) >= 1, "home page has a heading");
    const cards = page.locator("main li.card a.card-link");
    assert.ok((await cards.count()) > 0, "home page lists products");

    await readHomeLinks(page);

    await screenshot(page, "home.png");
    assertNoIssues(issues, "home page");
  });

  test("home page at mobile width", { timeout: TEST_MS }, async (t) => {
    const mobile = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    t.after(() => mobile.close().catch(() => {}));
    mobile.setDefaultTimeout(WAIT_MS);
    mobile.setDefaultNavigationTimeout(NAV_MS);
    const { page, issues, response } = await open(t, base + "/", mobile);
    assert.equal(response.status(), 200);
    await settle(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `home page scrolls sideways at 390px by ${overflow}px`);
    await screenshot(page, "home-mobile.png");
    assertNoIssues(issues, "home page (mobile)");
  });

  test("category page", { timeout: TEST_MS }, async (t) => {
    await discover(t);
    const { page, issues, response } = await open(t, visited.category);
    assert.equal(response.status(), 200);
    await settle(page);

    const slug = new URL(visited.category).pathname.split("/").filter(Boolean)[1];
    const category = catalog.categories.find((c) => c.slug === slug);
    assert.ok(category, `category ${slug} is in products.json`);
    assert.equal((await page.locator("h1").textContent()).trim(), category.name);

    const hrefs = await page.locator("main li.card a.card-link").evaluateAll((as) => as.map((a) => a.pathname));
    assert.ok(hrefs.length > 0, "category page lists products");
    for (const href of hrefs) {
      const product = byUrl.get(href);
      assert.ok(product, `${href} is a product in products.json`);
      assert.equal(product.category_slug, slug, `${product.name} belongs on ${slug}`);
    }

    await screenshot(page, "category.png");
    assertNoIssues(issues, "category page");
  });

  test("product page has structured data, canonical link and og:title", { timeout: TEST_MS }, async (t) => {
    await discover(t);
    const { page, issues, response } = await open(t, visited.product);
    assert.equal(response.status(), 200);
    await settle(page);

    const pathname = new URL(visited.product).pathname;
    const product = byUrl.get(pathname);
    assert.ok(product, `${pathname} is in products.json`);
    assert.equal((await page.locator("h1").textContent()).trim(), product.name);
    assert.equal(product.name, visited.productName, "card name matches the product page");

    // JSON-LD: may be one object, an array, or an @graph.
    const blocks = await page.locator('script[type="application/ld+json"]').allTextContents();
    assert.ok(blocks.length > 0, "product page has a JSON-LD script");
    const nodes = [];
    const collect = (v) => {
      if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === "object") {
        nodes.push(v);
        if (v["@graph"]) collect(v["@graph"]);
      }
    };
    for (const text of blocks) {
      let parsed;
      assert.doesNotThrow(() => (parsed = JSON.parse(text)), `JSON-LD parses: ${text.slice(0, 200)}`);
      collect(parsed);
    }
    const types = (n) => [].concat(n["@type"] || []);
    const ld = nodes.find((n) => types(n).includes("Product"));
    assert.ok(ld, `a JSON-LD node has @type Product; types seen: ${JSON.stringify(nodes.map(types))}`);
    assert.equal(ld.name, product.name);
    const offer = [].concat(ld.offers || [])[0];
    assert.ok(offer, "the Product has offers");
    assert.ok(offer.price !== undefined && offer.price !== null, "offers.price is set");
    assert.equal(cents(offer.price), cents(product.price), `offers.price ${offer.price} vs products.json ${product.price}`);
    assert.match(String(offer.priceCurrency || ""), /^[A-Z]{3}$/, "offers.priceCurrency is an ISO code");

    const canonical = await page.locator('link[rel="canonical"]').getAttribute("href");
    assert.ok(canonical, "product page has a canonical link");
    const canonicalUrl = new URL(canonical); // throws if not absolute
    assert.equal(canonicalUrl.pathname, pathname, "canonical points at this product");

    const ogTitle = await page.locator('meta[property="og:title"]').getAttribute("content");
    assert.ok(ogTitle && ogTitle.includes(product.name), `og:title ${JSON.stringify(ogTitle)} names the product`);

    await screenshot(page, "product.png");
    assertNoIssues(issues, "product page");
  });

  test("search page: query, filters, sorting and URL state", { timeout: TEST_MS }, async (t) => {
    const query = "oak";
    const { page, issues, response } = await open(t, base + "/search/");
    assert.equal(response.status(), 200);

    // The catalog loads and an empty query lists everything.
    const initial = await waitForSearch(page, "");
    assert.equal(foundCount(initial.status), catalog.products.length);

    const productOf = (r) => {
      const p = byUrl.get(r.href);
      assert.ok(p, `result ${r.href} is in products.json`);
      assert.equal(p.name, r.name, `result name for ${r.href}`);
      assert.equal(byName.get(r.name), p);
      return p;
    };

    // 1. A text query.
    await page.locator("#search-form input[name=q]").fill(query);
    const hits = await waitForSearch(page, `q=${query}`);
    assert.ok(hits.results.length > 0, `"${query}" finds products`);
    assert.equal(foundCount(hits.status), hits.results.length, `status: ${hits.status}`);
    const hitProducts = hits.results.map(productOf);
    for (const p of hitProducts) {
      const haystack = fold(`${p.name} ${p.category} ${p.summary}`);
      assert.ok(haystack.includes(query), `${p.name} relates to "${query}" (name, category or summary)`);
    }
    assert.ok(
      hits.results.some((r) => fold(r.name).includes(query)),
      `at least one result for "${query}" has it in its name`,
    );
    await settle(page);
    await screenshot(page, "search.png");

    // Pick a category among the hits that has both in-stock and out-of-stock
    // products, so the category and stock filters each visibly remove items.
    // If the query's hits allow no such choice, use the whole catalog instead.
    const pick = (products) => {
      const slugs = [...new Set(products.map((p) => p.category_slug))];
      return slugs.find((s) => {
        const inCat = products.filter((p) => p.category_slug === s);
        return inCat.length < products.length && inCat.some((p) => p.in_stock) && inCat.some((p) => !p.in_stock);
      });
    };
    let q = query;
    let pool = hits.results;
    let slug = pick(hitProducts);
    if (!slug) {
      q = "";
      await page.locator("#search-form input[name=q]").fill("");
      pool = (await waitForSearch(page, "")).results;
      slug = pick(pool.map(productOf));
    }
    assert.ok(slug, "some category has both in-stock and out-of-stock products");
    const qParam = q ? `q=${q}&` : "";

    // 2. Category filter: exactly the earlier results that are in that category.
    await page.locator("#search-form select[name=category]").selectOption(slug);
    const inCategory = await waitForSearch(page, `${qParam}category=${slug}`);
    assert.ok(inCategory.results.length > 0);
    for (const r of inCategory.results) assert.equal(productOf(r).category_slug, slug, `${r.name} is in ${slug}`);
    assert.deepEqual(
      inCategory.results.map((r) => r.href).sort(),
      pool.filter((r) => byUrl.get(r.href).category_slug === slug).map((r) => r.href).sort(),
      "category filter keeps exactly the matching results of that category",
    );
    assert.equal(foundCount(inCategory.status), inCategory.results.length);

    // 3. In stock only: removes the out-of-stock ones and nothing else.
    await page.locator("#search-form input[name=in_stock]").check();
    const inStock = await waitForSearch(page, `${qParam}category=${slug}&in_stock=1`);
    const expectedInStock = inCategory.results.filter((r) => byUrl.get(r.href).in_stock).map((r) => r.href);
    assert.ok(expectedInStock.length < inCategory.results.length, "the chosen set has an out-of-stock product");
    assert.deepEqual(inStock.results.map((r) => r.href).sort(), [...expectedInStock].sort());
    for (const r of inStock.results) assert.equal(productOf(r).in_stock, true, `${r.name} is in stock`);

    // 4. Price, low to high: same set, non-decreasing exact prices.
    await page.locator("#search-form select[name=sort]").selectOption("price-asc");
    const sorted = await waitForSearch(page, `${qParam}category=${slug}&in_stock=1&sort=price-asc`);
    assert.deepEqual(sorted.results.map((r) => r.href).sort(), [...expectedInStock].sort());
    const sortedCents = sorted.results.map((r) => cents(productOf(r).price));
    for (let i = 1; i < sortedCents.length; i++) {
      assert.ok(sortedCents[i - 1] <= sortedCents[i], `prices ascend: ${sorted.results.map((r) => productOf(r).price)}`);
    }

    // 5. The URL reflects the filters.
    const params = new URL(page.url()).searchParams;
    assert.equal(params.get("q"), q || null);
    assert.equal(params.get("category"), slug);
    assert.equal(params.get("in_stock"), "1");
    assert.equal(params.get("sort"), "price-asc");
    const fullUrl = page.url();

    // 6. Loading such URLs restores the form and the results.
    const restoreCases = [
      { url: `${base}/search/?${qParam}category=${slug}`, q, slug, sort: "relevance", inStock: false, want: inCategory },
      { url: fullUrl, q, slug, sort: "price-asc", inStock: true, want: sorted },
    ];
    for (const c of restoreCases) {
      const restored = await open(t, c.url);
      const seen = await waitForSearch(restored.page, new URL(c.url).search);
      assert.equal(await restored.page.locator("#search-form input[name=q]").inputValue(), c.q, `q restored from ${c.url}`);
      assert.equal(await restored.page.locator("#search-form select[name=category]").inputValue(), c.slug);
      assert.equal(await restored.page.locator("#search-form select[name=sort]").inputValue(), c.sort);
      assert.equal(await restored.page.locator("#search-form input[name=in_stock]").isChecked(), c.inStock);
      assert.deepEqual(
        seen.results.map((r) => r.href),
        c.want.results.map((r) => r.href),
        `results restored from ${c.url}`,
      );
      assert.equal(seen.status, c.want.status);
      await settle(restored.page);
      assertNoIssues(restored.issues, `search page restored from ${c.url}`);
    }

    // 7. Sorting the whole catalog both ways, on a large set.
    await page.locator("#search-form input[name=q]").fill("");
    await page.locator("#search-form select[name=category]").selectOption("");
    await page.locator("#search-form input[name=in_stock]").uncheck();
    for (const [sort, ok] of [
      ["price-asc", (a, b) => a <= b],
      ["price-desc", (a, b) => a >= b],
    ]) {
      await page.locator("#search-form select[name=sort]").selectOption(sort);
      const all = await waitForSearch(page, `sort=${sort}`);
      assert.equal(all.results.length, Math.min(catalog.products.length, 120));
      const prices = all.results.map((r) => cents(productOf(r).price));
      for (let i = 1; i < prices.length; i++) {
        assert.ok(ok(prices[i - 1], prices[i]), `${sort}: ${all.results[i - 1].name} then ${all.results[i].name}`);
      }
    }

    await settle(page);
    assertNoIssues(issues, "search page");
  });

  test("search page: on sale only, each result with its sale shown", { timeout: TEST_MS }, async (t) => {
    const onSale = catalog.products.filter((p) => p.on_sale);
    assert.ok(onSale.length > 0, "the shop has products on sale");
    for (const p of onSale) assert.ok(cents(p.compare_at_price) > cents(p.price), `${p.name}: the old price is higher`);
    const { page, issues, response } = await open(t, base + "/search/");
    assert.equal(response.status(), 200);
    await waitForSearch(page, "");
    await page.getByLabel("On sale").check();
    const seen = await waitForSearch(page, "on_sale=1");
    assert.deepEqual(
      seen.results.map((r) => r.href).sort(),
      onSale.map((p) => p.url).sort(),
      "exactly the products on sale",
    );
    const first = page.locator("#search-results li.card").first();
    assert.match(await first.innerText(), /Sale/, "a result shows its sale badge");
    assert.equal(await first.locator("s").count(), 1, "and its old price struck through");
    await settle(page);
    assertNoIssues(issues, "search page, on sale");
  });

  test("header quick search leads to the search page with the query", { timeout: TEST_MS }, async (t) => {
    const { page, issues } = await open(t, base + "/");
    await page.locator("#quick-q").fill("oak");
    await Promise.all([page.waitForURL(/\/search\/\?q=oak$/, { timeout: NAV_MS }), page.locator("#quick-q").press("Enter")]);
    const seen = await waitForSearch(page, "q=oak");
    assert.equal(await page.locator("#search-form input[name=q]").inputValue(), "oak");
    assert.ok(seen.results.length > 0);
    await settle(page);
    assertNoIssues(issues, "quick search");
  });

  test("a missing page gets the 404 page with status 404", { timeout: TEST_MS }, async (t) => {
    const missing = `${base}/no-such-page-${Date.now()}/`;
    const { page, issues, response } = await open(t, missing);
    assert.equal(response.status(), 404);
    await settle(page);
    const heading = (await page.locator("h1").first().textContent({ timeout: WAIT_MS })).trim();
    assert.ok(heading.length > 0, "the 404 page has a heading");
    const title = await page.title();
    assert.ok(title.length > 0, "the 404 page has a title");
    // The document's own 404 is the point; anything else (CSS, icons) must load.
    const others = issues.filter((i) => i.url !== missing && !(i.kind === "console.error" && /status of 404/.test(i.text) && (!i.url || i.url === missing)));
    assertNoIssues(others, "404 page (besides its own status)");
    // Links on the 404 page lead somewhere real.
    const hrefs = await page.locator("main a").evaluateAll((as) => as.map((a) => a.href));
    for (const href of hrefs) {
      const res = await fetch(href);
      await res.arrayBuffer();
      assert.equal(res.status, 200, `${href} from the 404 page`);
    }
  });

  test("pages work without JavaScript", { timeout: TEST_MS }, async (t) => {
    const noJs = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
    t.after(() => noJs.close().catch(() => {}));
    noJs.setDefaultTimeout(WAIT_MS);
    noJs.setDefaultNavigationTimeout(NAV_MS);

    const { page, issues, response } = await open(t, base + "/", noJs);
    assert.equal(response.status(), 200);
    const firstPageCards = await page.locator("main li.card a.card-link").evaluateAll((as) => as.map((a) => a.pathname));
    assert.ok(firstPageCards.length > 0);

    // Pagination "Next".
    const next = page.locator('nav.pagination a[rel="next"]');
    assert.equal(await next.count(), 1, "home page has a Next link");
    assert.match((await next.textContent()).trim(), /next/i);
    const nextHref = new URL(await next.getAttribute("href"), base).pathname;
    const [nextResponse] = await Promise.all([
      page.waitForResponse((r) => r.request().isNavigationRequest() && new URL(r.url()).pathname === nextHref),
      next.click(),
    ]);
    await page.waitForURL((u) => u.pathname === nextHref, { waitUntil: "load" });
    assert.equal(nextResponse.status(), 200);
    assert.match(new URL(page.url()).pathname, /^\/page\/2\/$/);
    const secondPageCards = await page.locator("main li.card a.card-link").evaluateAll((as) => as.map((a) => a.pathname));
    assert.ok(secondPageCards.length > 0, "page 2 lists products");
    assert.ok(
      secondPageCards.every((h) => !firstPageCards.includes(h)),
      "page 2 shows different products than page 1",
    );

    // A product link.
    const card = page.locator("main li.card a.card-link").first();
    const name = (await card.locator(".card-name").textContent()).trim();
    const productPath = await card.evaluate((a) => a.pathname);
    const [productResponse] = await Promise.all([
      page.waitForResponse((r) => r.request().isNavigationRequest() && new URL(r.url()).pathname === productPath),
      card.click(),
    ]);
    await page.waitForURL((u) => u.pathname === productPath, { waitUntil: "load" });
    assert.equal(productResponse.status(), 200);
    assert.equal((await page.locator("h1").textContent()).trim(), name);
    assert.equal(byUrl.get(productPath)?.name, name);
    await settle(page);
    assertNoIssues(issues, "no-JavaScript browsing");
  });
});
