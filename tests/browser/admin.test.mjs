// End-to-end test of the api's server-rendered admin UI in real headless
// Chromium, publishing to a local S3 (moto_server).
//
// Makes a database of its own on the PostgreSQL primary (migrated, loaded from
// content/ and dropped at the end), a bucket of its own on moto_server and an
// admin user, serves the api on a free port with its rebuild worker publishing
// to that bucket, and drives Debian's Chromium through playwright-core (no
// browser is ever downloaded): log in, create, edit and delete products,
// conflicting edits, image upload limits, a phone's photo made the main image
// (and the variant a phone then loads), CSV export and import, the
// publishing panel, the product history, and log out. Along the way it checks
// what the storefront in the bucket shows, runs axe-core on the main admin
// pages, and fails on any console error or Content-Security-Policy violation.
//
// Run from the repository root, after `cargo build`, with the local PostgreSQL
// pair and moto_server running (scripts/test.sh starts both and exports their
// settings):
//   npm ci --prefix tests/browser    (once)
//   node --test tests/browser/
//
// Environment (the test fails, rather than skips, without the first two):
//   DATABASE_URL        the PostgreSQL primary, as a superuser (a database is made on it)
//   AWS_ENDPOINT_URL    moto_server, e.g. http://127.0.0.1:54351 (a bucket is made on it)
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, CLOUDFRONT_DISTRIBUTION_ID
//                       passed on to the api (dummy credentials do)
//   API_BIN             the api binary (default: <repo>/target/debug/api)
//   GENERATOR_BIN       the generator binary (default: <repo>/target/debug/generator)
//                       (a relative path is taken from the repository root)
//   CHROMIUM_PATH       the Chromium binary (default: /usr/bin/chromium)
//
// The api reads and writes the new database's primary only: DATABASE_REPLICA_URL
// is not passed on. Screenshots are written to <repo>/artifacts/screenshots/.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { setTimeout as delay } from "node:timers/promises";

import axe from "axe-core";
import { chromium } from "playwright-core";

import { API_BIN, CHROMIUM_ARGS, CHROMIUM_PATH, GENERATOR_BIN, REPO_ROOT, SCREENSHOT_DIR } from "./settings.mjs";

const VIEWPORT = { width: 1280, height: 800 };

// Generous limits for a slow, shared 2-core machine. These are ceilings for
// waiting on a condition, never sleeps.
const WAIT_MS = 15_000;
const NAV_MS = 30_000;
const TEST_MS = 180_000;
const SETUP_MS = 300_000;
const COMMAND_MS = 120_000; // psql, generator migrate / import, api admin
const LISTEN_MS = 60_000; // until the api prints its address
const PUBLISH_MS = 60_000; // until a change shows in the bucket
const POLL_MS = 250; // between two looks at the bucket while waiting
// A 12-megapixel photo's first publish decodes, resizes and encodes it in a
// debug build: ceilings for that one, again never sleeps.
const PHOTO_PUBLISH_MS = 240_000;
const PHOTO_TEST_MS = 480_000;
const STOP_MS = 10_000; // SIGTERM, then SIGKILL after this long
const LOG_LIMIT = 4 * 1024 * 1024; // of the api's output kept for failure reports

const ADMIN_EMAIL = "owner@shop.example";
const ADMIN_PASSWORD = "a long enough password";

// moto_server routes a request to S3 by the service in the credential scope;
// it checks no signature.
const S3_AUTH =
  "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

// A real 1x1 PNG (one opaque pixel).
const PNG_1X1 = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mO4ma0NAAOQAXBA8yUFAAAAAElFTkSuQmCC",
  "base64",
);
const MIB = 1024 * 1024;

const CSV_HEADER =
  "product_id,slug,name,price,category,stock_quantity,image_url,images,description,status,compare_at_price,seo_title,seo_description,gtin,mpn,buy_url";
const FORMULA = '=HYPERLINK("http://evil.example","x")';
const XSS_NAME = "<img src=x onerror=alert(1)>Zeta Mug";

// ---------------------------------------------------------------------------
// Helpers that need no browser.

function requireEnv(name, hint) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; ${hint}`);
  return value;
}

async function requireExecutable(file, hint) {
  try {
    await fs.access(file, fsConstants.X_OK);
  } catch {
    throw new Error(`${file} was not found or is not executable. ${hint}`);
  }
}

/**
 * Runs a program to completion and returns its stdout. Rejects with its
 * output when it exits with a failure, is killed, or takes longer than
 * `timeout`.
 */
function run(file, args, { env = process.env, input, cwd = REPO_ROOT, timeout = COMMAND_MS, label } = {}) {
  const what = label || `${path.basename(file)} ${args.join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    const out = [];
    const err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${file}: ${e.message}`, { cause: e }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code === 0) return resolve(stdout);
      const how = signal ? `was killed (${signal}; the limit is ${timeout} ms)` : `exited with ${code}`;
      reject(new Error(`${what} ${how}:\n${stderr}${stdout}`));
    });
    child.stdin.on("error", () => {}); // it may exit before reading its input
    child.stdin.end(input ?? "");
  });
}

/** Runs one SQL statement with psql; errors name the statement, never the URL. */
function psql(url, sql) {
  return run("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], { label: `psql -c "${sql}"` });
}

/** `url` with its database name replaced by `name` (user, password and query kept). */
function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = "/" + name;
  return u.href;
}

/** The environment of a child process: ours, without `drop`, plus `set`. */
function childEnv(set, drop = []) {
  const env = { ...process.env };
  for (const name of drop) delete env[name];
  return { ...env, ...set };
}

/** Calls `check` until it returns something truthy, then returns that. */
async function waitFor(check, what, timeout = PUBLISH_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting until ${what}${last ? `: ${last.message}` : ""}`, {
        cause: last,
      });
    }
    await delay(POLL_MS);
  }
}

function sha256Hex(buffer) {
  return createHash("sha256").update(buffer).digest("hex");
}

/** The entries of a `srcset` attribute: [{ url, width }] for each "url 640w". */
function srcsetEntries(srcset) {
  return srcset
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^(\S+)\s+(\d+)w$/.exec(entry);
      assert.ok(m, `a srcset entry is "url <width>w": ${JSON.stringify(entry)} in ${JSON.stringify(srcset)}`);
      return { url: m[1], width: Number(m[2]) };
    });
}

/** The size and type a variant's key names (`images/v/<stem>-<digest16>-<policy>-<w>x<h>.<ext>`). */
function variantOf(url) {
  const key = new URL(url, "http://x").pathname;
  const m = /\/images\/v\/([a-z0-9-]+)-([0-9a-f]{16})-([a-z0-9]+)-(\d+)x(\d+)\.([a-z]+)$/.exec(key);
  assert.ok(m, `${url} is named like a variant: images/v/<stem>-<digest16>-<policy>-<w>x<h>.<ext>`);
  return { stem: m[1], width: Number(m[4]), height: Number(m[5]), ext: m[6] };
}

/** The `srcset` of the first `<source type="image/webp">` in `html`, or null. */
function webpSrcset(html) {
  const m = /<source type="image\/webp" srcset="([^"]*)"/.exec(html);
  return m ? m[1] : null;
}

/** The part of a product page from `start` to `end` (exclusive); "" without `start`. */
function between(html, start, end) {
  const from = html.indexOf(start);
  if (from < 0) return "";
  const to = html.indexOf(end, from + start.length);
  return html.slice(from, to < 0 ? html.length : to);
}

/** Text of a small file made of `text`, as a Playwright file payload. */
function filePayload(name, mimeType, content) {
  return { name, mimeType, buffer: Buffer.isBuffer(content) ? content : Buffer.from(content, "utf8") };
}

// -- S3 on moto_server ------------------------------------------------------

function s3Client(endpoint, bucket) {
  const base = endpoint.replace(/\/+$/, "");
  const objectUrl = (key) => `${base}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  return {
    endpoint: base,
    bucket,
    objectUrl,
    async createBucket() {
      const res = await fetch(`${base}/${bucket}`, { method: "PUT", headers: { Authorization: S3_AUTH } });
      const body = await res.text();
      if (!res.ok) throw new Error(`PUT ${base}/${bucket} answered ${res.status}: ${body.slice(0, 500)}`);
    },
    /** { status, body } of an object; status 404 when it is not there. */
    async get(key) {
      const res = await fetch(objectUrl(key), { headers: { Authorization: S3_AUTH } });
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
    },
    async text(key) {
      const { status, body } = await this.get(key);
      return status === 200 ? body.toString("utf8") : null;
    },
  };
}

// -- The api process --------------------------------------------------------

/** A bounded log of a child's output, for failure reports. */
function makeLog() {
  let text = "";
  return {
    append(chunk) {
      text += chunk;
      if (text.length > LOG_LIMIT) text = "…\n" + text.slice(text.length - LOG_LIMIT);
    },
    get text() {
      return text;
    },
  };
}

/**
 * Starts `api serve` and resolves, once it prints `api listening on URL`, to
 * { child, origin, log, exited }. Everything it writes after that line (both
 * streams) goes to `log`.
 */
function startApi(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(API_BIN, ["serve"], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const log = makeLog();
    const api = { child, origin: null, log, exited: null };
    let settled = false;
    const fail = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`the api printed no address within ${LISTEN_MS} ms; its output:\n${log.text}`));
    }, LISTEN_MS);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d) => log.append(d));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^api listening on (http:\/\/\S+)$/.exec(line);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        api.origin = m[1].replace(/\/+$/, "");
        resolve(api);
      } else {
        log.append(`[stdout] ${line}\n`);
      }
    });
    child.on("error", (e) => fail(new Error(`could not start ${API_BIN}: ${e.message}`, { cause: e })));
    child.on("exit", (code, signal) => {
      api.exited = { code, signal };
      log.append(`[the api exited: ${signal || `status ${code}`}]\n`);
      fail(new Error(`the api exited (${signal || `status ${code}`}) before it listened; its output:\n${log.text}`));
    });
  });
}

/** SIGTERM, then SIGKILL if it is still running after STOP_MS. */
async function stopProcess(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const result = await Promise.race([exited.then(() => "exited"), delay(STOP_MS).then(() => "timeout")]);
  if (result === "timeout") {
    child.kill("SIGKILL");
    await exited;
  }
}

// -- CSV (RFC 4180) ----------------------------------------------------------

/** Parses CSV text into rows of cells: quoted cells, "" escapes, CRLF or LF. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // a byte order mark
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else {
      cell += c;
    }
  }
  assert.ok(!quoted, "the CSV ends inside a quoted cell");
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** Rows -> CSV text with CRLF line endings, as RFC 4180 and spreadsheet programs write it. */
function toCsv(rows) {
  const quote = (v) => {
    const s = String(v ?? "");
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(quote).join(",")).join("\r\n") + "\r\n";
}

/** Header + rows -> objects keyed by the header's names. */
function csvRecords(rows) {
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
}

// ---------------------------------------------------------------------------
// Helpers around a page.

/**
 * Watches every page of `context` for console errors (CSP violations among
 * them), uncaught page errors, dialogs (an alert() would mean injected script
 * ran) and failed subresources. A document the server answered with a 4xx on
 * purpose (a validation error, a conflict) logs "Failed to load resource" for
 * itself; that one is not an issue.
 */
function watchContext(context, label) {
  const issues = [];
  const documentsWithErrorStatus = new Set();
  const blockedUrls = new Set();
  context.on("page", (page) => {
    page.on("response", (res) => {
      const req = res.request();
      if (req.isNavigationRequest() && res.status() >= 400) documentsWithErrorStatus.add(res.url());
      else if (!req.isNavigationRequest() && res.status() >= 400) {
        issues.push({ kind: `HTTP ${res.status()}`, page: page.url(), text: res.url() });
      }
    });
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const loc = msg.location() || {};
      const text = msg.text();
      const expected = documentsWithErrorStatus.has(loc.url) || blockedUrls.has(loc.url);
      if (expected && /^Failed to load resource/.test(text)) return;
      issues.push({ kind: "console.error", page: page.url(), text: `${text}${loc.url ? ` (${loc.url})` : ""}` });
    });
    page.on("pageerror", (err) =>
      issues.push({ kind: "pageerror", page: page.url(), text: String(err?.stack || err) }),
    );
    page.on("dialog", (dialog) => {
      issues.push({ kind: `dialog (${dialog.type()})`, page: page.url(), text: dialog.message() });
      dialog.dismiss().catch(() => {});
    });
  });
  return {
    label,
    /** Requests to other origins are refused (the test is offline); remembered so their errors are not issues. */
    blocked: blockedUrls,
    /** What was recorded since the last look, forgetting it. */
    drain() {
      return issues.splice(0);
    },
    /** Fails if anything was recorded since the last look, and starts over. */
    assertClean(where) {
      const found = issues.splice(0);
      if (found.length === 0) return;
      assert.fail(
        `${where} (${label}): expected no console errors, CSP violations, page errors, dialogs or failed ` +
          `subresources, got:\n` +
          found.map((i) => `  [${i.kind}] on ${i.page}: ${i.text}`).join("\n"),
      );
    },
  };
}

/** Lets only requests to `origin` through; others are aborted and remembered. */
async function onlyOrigin(context, origin, watcher) {
  await context.route(
    (url) => url.origin !== origin,
    (route) => {
      watcher?.blocked.add(route.request().url());
      return route.abort("blockedbyclient");
    },
  );
}

/**
 * Runs `action` (a click that submits a form or follows a link) and waits for
 * the main frame's next document: follows redirects, waits for its load event
 * and returns its (final, non-redirect) response.
 */
async function navigation(page, action) {
  const main = page.mainFrame();
  try {
    const [response] = await Promise.all([
      page.waitForResponse(
        (r) => r.request().isNavigationRequest() && r.frame() === main && !(r.status() >= 300 && r.status() < 400),
        { timeout: NAV_MS },
      ),
      page.waitForEvent("framenavigated", { predicate: (f) => f === main, timeout: NAV_MS }),
      action(),
    ]);
    await page.waitForLoadState("load", { timeout: NAV_MS });
    return response;
  } catch (err) {
    throw new Error(`${err.message}\nthe page:\n${await describePage(page)}`, { cause: err });
  }
}

/** The status of the redirect that led to `response` (e.g. 303), or null. */
async function redirectStatus(response) {
  const from = response.request().redirectedFrom();
  if (!from) return null;
  const res = await from.response();
  return res ? res.status() : null;
}

/** What a page says, for failure messages. */
async function describePage(page) {
  return page
    .evaluate(() => {
      const texts = (sel) =>
        [...document.querySelectorAll(sel)].map((e) => e.textContent.replace(/\s+/g, " ").trim()).filter(Boolean);
      return {
        url: location.href,
        title: document.title,
        h1: texts("h1"),
        status: texts("[role=status]"),
        alerts: texts("[role=alert]"),
      };
    })
    .then((d) => JSON.stringify(d, null, 1))
    .catch((e) => `(could not read the page: ${e.message})`);
}

/** Waits until an element matching `selector` with `text` is visible. */
async function expectVisible(page, selector, text, what) {
  const loc = page.locator(selector).filter({ hasText: text }).first();
  try {
    await loc.waitFor({ state: "visible", timeout: WAIT_MS });
  } catch (err) {
    throw new Error(`${what}: no visible ${selector} with ${text}; the page:\n${await describePage(page)}`, {
      cause: err,
    });
  }
  return loc;
}

const expectStatus = (page, text, what = "flash message") => expectVisible(page, "[role=status]", text, what);
const expectAlert = (page, text, what = "alert") => expectVisible(page, "[role=alert]", text, what);

function assertPath(page, expected, what) {
  const actual = new URL(page.url()).pathname;
  if (expected instanceof RegExp) assert.match(actual, expected, `${what}: at ${page.url()}`);
  else assert.equal(actual, expected, `${what}: at ${page.url()}`);
}

async function screenshot(page, name) {
  await fs.mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, name), fullPage: true, timeout: NAV_MS });
}

/** Asserts that the control labelled `label` inside `scope` is the one named `name`. */
async function assertLabelled(scope, label, name) {
  const n = await scope.getByLabel(label).and(scope.locator(`[name="${name}"]`)).count();
  assert.equal(n, 1, `a control labelled ${JSON.stringify(label)} is the field name=${name}`);
}

/** The rows of table#products: id, name, link and the row's text (cells joined by " | "). */
async function readProductRows(page) {
  return page.locator("table#products tr[data-product-id]").evaluateAll((rows) =>
    rows.map((tr) => {
      const link = tr.querySelector('a[href*="/edit"]');
      return {
        id: tr.dataset.productId,
        name: link ? link.textContent.replace(/\s+/g, " ").trim() : null,
        href: link ? new URL(link.getAttribute("href"), location.href).pathname : null,
        text: [...tr.cells].map((td) => td.textContent.replace(/\s+/g, " ").trim()).join(" | "),
      };
    }),
  );
}

/** Fills form#product (the given fields only). */
async function fillProduct(page, fields) {
  const form = page.locator("form#product");
  for (const [name, value] of Object.entries(fields)) {
    const field = form.locator(`[name="${name}"]`);
    if (name === "image") await form.locator('input[name="image"]').setInputFiles(value);
    else if ((await field.evaluate((el) => el.tagName)) === "SELECT") await field.selectOption(value);
    else await field.fill(value);
  }
}

/** The image list of form#product, in order: the urls of its hidden image_url_{n} fields. */
async function imageUrls(page) {
  return page.locator('form#product input[type="hidden"][name^="image_url_"]').evaluateAll((inputs) =>
    inputs
      .map((i) => [Number(i.name.slice("image_url_".length)), i.value])
      .sort((a, b) => a[0] - b[0])
      .map(([, url]) => url),
  );
}

/** The alt texts of form#product's image list, in order. */
async function imageAlts(page) {
  return page.locator('form#product input[name^="image_alt_"]').evaluateAll((inputs) =>
    inputs
      .map((i) => [Number(i.name.slice("image_alt_".length)), i.value])
      .sort((a, b) => a[0] - b[0])
      .map(([, alt]) => alt),
  );
}

/**
 * A phone-size photo made in `page` (which may be about:blank): a
 * `width`×`height` canvas of noise over a gradient, which compresses badly,
 * as a JPEG at `quality`. Returns its bytes.
 */
async function noisyJpeg(page, { width, height, quality }) {
  const base64 = await page.evaluate(
    async ({ width, height, quality }) => {
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext("2d");
      const image = ctx.createImageData(width, height);
      const d = image.data;
      let seed = 20260101; // a fixed sequence, so the photo is the same every run
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const i = (y * width + x) * 4;
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          const noise = seed >>> 25; // 0..127: about 10 MB at quality 0.95
          d[i] = ((x * 255) / width + noise) & 255;
          d[i + 1] = ((y * 255) / height + noise / 2) & 255;
          d[i + 2] = (128 + noise) & 255;
          d[i + 3] = 255;
        }
      }
      ctx.putImageData(image, 0, 0);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
      if (!blob) throw new Error("canvas.toBlob gave no JPEG");
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let binary = "";
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(binary);
    },
    { width, height, quality },
  );
  return Buffer.from(base64, "base64");
}

/** Clicks the form's "Save" and returns the final response. */
async function saveProduct(page) {
  const save = page.locator("form#product").getByRole("button", { name: "Save", exact: true });
  return navigation(page, () => save.click());
}

/** The product id in an edit page's URL. */
function editedId(page) {
  const m = /^\/admin\/products\/([^/]+)\/edit$/.exec(new URL(page.url()).pathname);
  assert.ok(m, `expected an edit page, at ${page.url()}`);
  return m[1];
}

/**
 * Runs axe-core on `url` in a context that bypasses the CSP (axe is injected
 * as a script), with the cookies of `storageState`, and fails on any
 * violation of impact serious or critical. Every violation is printed.
 */
async function axeCheck(browser, url, label, storageState) {
  const ctx = await browser.newContext({ bypassCSP: true, viewport: VIEWPORT, storageState });
  try {
    ctx.setDefaultTimeout(WAIT_MS);
    ctx.setDefaultNavigationTimeout(NAV_MS);
    await onlyOrigin(ctx, new URL(url).origin);
    const page = await ctx.newPage();
    const res = await page.goto(url, { waitUntil: "load" });
    assert.equal(res.status(), 200, `${label}: ${url} answered ${res.status()}`);
    assert.equal(new URL(page.url()).pathname, new URL(url).pathname, `${label}: ${url} was redirected`);
    await page.addScriptTag({ content: axe.source });
    const violations = await page.evaluate(async () => {
      const results = await window.axe.run(document, { resultTypes: ["violations"] });
      return results.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
      }));
    });
    for (const v of violations) {
      console.log(`axe ${label}: [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`);
      for (const n of v.nodes) console.log(`    ${n.target}\n      ${(n.summary || "").replace(/\n/g, "\n      ")}`);
    }
    const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(
      bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target).join(", ")}`),
      [],
      `${label}: axe-core found serious or critical accessibility violations`,
    );
  } finally {
    await ctx.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------

describe("admin UI in headless Chromium", () => {
  let adminDbUrl; // the server's DATABASE_URL, to make and drop our database
  let dbName;
  let stateDir;
  let dbUrl; // our database
  let s3;
  let api; // { child, origin, log, exited }
  let browser;
  let context; // the logged-in admin ("A")
  let watcher; // console errors etc. of `context`
  let base; // the api's origin
  // A setup failure (DATABASE_URL unset, say) fails every test with its
  // reason, rather than leaving them cancelled.
  let setupError = null;

  // What the tests make and find, in order.
  const shop = {
    kettle: { name: "Test Zeta Kettle", slug: "test-zeta-kettle", id: null },
    imageHash: null, // the kettle's first image, a 1x1 PNG
    mainImageHash: null, // the kettle's main image now
    formula: { id: null, field: null },
    mug: { name: XSS_NAME, slug: "zeta-mug" },
    updated: null, // the existing product the CSV import updates: { id, slug, name }
  };

  function need(value, what) {
    assert.ok(value, `this test needs ${what}, which an earlier test makes; run the whole file`);
    return value;
  }

  /** The bucket's products.json entry for `slug`, once there. The listings go
   * up after the product pages, in the same publish. */
  function listedInBucket(slug, what) {
    return waitFor(async () => {
      const catalog = JSON.parse((await s3.text("products.json")) || "{}");
      return catalog.products?.find((p) => p.slug === slug);
    }, what);
  }

  /**
   * A test of the flow: a fresh page in the admin context, closed afterwards;
   * on failure, the api's log is printed.
   */
  function step(name, fn, { timeout = TEST_MS } = {}) {
    test(name, { timeout }, async (t) => {
      if (setupError) throw new Error(`the setup failed: ${setupError.message}`, { cause: setupError });
      const pages = [];
      const newPage = async () => {
        const page = await context.newPage();
        pages.push(page);
        return page;
      };
      try {
        await fn(t, newPage);
        watcher.assertClean(name);
      } catch (err) {
        const issues = watcher.drain(); // reported here, not blamed on the next test
        if (issues.length) {
          const lines = issues.map((i) => `  [${i.kind}] on ${i.page}: ${i.text}`);
          console.error(`"${name}": also seen in the browser:\n${lines.join("\n")}`);
        }
        printApiLog(`"${name}" failed`);
        throw err;
      } finally {
        for (const p of pages) await p.close().catch(() => {});
      }
    });
  }

  function printApiLog(why) {
    if (!api || (!api.log.text && !api.exited)) return;
    const exited = api.exited ? ` (it exited: ${api.exited.signal || `status ${api.exited.code}`})` : "";
    console.error(`\n----- ${why}: the api's log${exited} -----\n${api.log.text}----- end of the api's log -----`);
  }

  function goto(page, pathname) {
    return page.goto(base + pathname, { waitUntil: "load" });
  }

  /** Opens the list filtered by `query` and returns its rows. */
  async function listRows(page, query) {
    const res = await goto(page, `/admin/products?${new URLSearchParams(query)}`);
    assert.equal(res.status(), 200, `/admin/products?${new URLSearchParams(query)}`);
    assertPath(page, "/admin/products", "the product list (still logged in?)");
    return readProductRows(page);
  }

  async function apiProduct(page, id) {
    const res = await page.request.get(`${base}/api/products/${id}`);
    assert.equal(res.status(), 200, `GET /api/products/${id}`);
    return res.json();
  }

  /** A new-product form filled with `fields` (active unless they say), saved; returns the response. */
  async function createProduct(page, fields) {
    await goto(page, "/admin/products/new");
    assertPath(page, "/admin/products/new", "the new-product form");
    await fillProduct(page, { status: "active", ...fields });
    return saveProduct(page);
  }

  /**
   * A browser context that reads the storefront straight from the bucket:
   * site-relative links (/assets/..., /images/...) are sent to the bucket
   * too, and nothing else is fetched. Closed when `t` ends.
   */
  async function bucketContext(t, options) {
    const shopContext = await browser.newContext(options);
    t.after(() => shopContext.close().catch(() => {}));
    shopContext.setDefaultTimeout(WAIT_MS);
    shopContext.setDefaultNavigationTimeout(NAV_MS);
    await shopContext.route("**/*", async (route) => {
      const url = new URL(route.request().url());
      if (url.origin !== s3.endpoint) return route.abort("blockedbyclient");
      let key = decodeURIComponent(url.pathname).replace(/^\/+/, "");
      if (key.startsWith(`${s3.bucket}/`)) key = key.slice(s3.bucket.length + 1);
      if (key === "" || key.endsWith("/")) key += "index.html";
      const response = await route.fetch({
        url: s3.objectUrl(key),
        headers: { ...route.request().headers(), authorization: S3_AUTH },
      });
      return route.fulfill({ response });
    });
    return shopContext;
  }

  before(
    async () => {
      try {
        await setUp();
      } catch (err) {
        setupError = err;
        printApiLog("the setup failed");
      }
    },
    { timeout: SETUP_MS },
  );

  /** The database, the bucket, the admin user, the api and the browser. */
  async function setUp() {
    // Both are required: without them this test fails rather than skips.
    adminDbUrl = requireEnv(
      "DATABASE_URL",
      "the admin test makes a database of its own on the PostgreSQL primary; run ./scripts/test.sh, " +
        'or start the local pair and export its URLs: eval "$(infra/local/pg.sh start)"',
    );
    const endpoint = requireEnv(
      "AWS_ENDPOINT_URL",
      "the admin test publishes to a bucket of its own on the local S3 (moto_server); run ./scripts/test.sh, " +
        'or start it and export its settings: eval "$(infra/local/moto.sh start)"',
    );
    await requireExecutable(GENERATOR_BIN, `Run \`cargo build\` in ${REPO_ROOT} first (or set GENERATOR_BIN).`);
    await requireExecutable(API_BIN, `Run \`cargo build\` in ${REPO_ROOT} first (or set API_BIN).`);
    await requireExecutable(
      CHROMIUM_PATH,
      "Install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH; " +
        "this test never downloads a browser.",
    );
    await run("psql", ["--version"]).catch((e) => {
      throw new Error(`psql is needed to make the test's database (Debian: apt-get install postgresql-client)`, {
        cause: e,
      });
    });

    // A database of our own, migrated and loaded from content/.
    const stamp = `${process.pid}_${Date.now()}`;
    dbName = `shop_admin_${stamp}`;
    await psql(adminDbUrl, `CREATE DATABASE ${dbName}`);
    dbUrl = withDatabase(adminDbUrl, dbName);
    const dbEnv = childEnv({ DATABASE_URL: dbUrl, NO_COLOR: "1" }, ["DATABASE_REPLICA_URL"]);
    await run(GENERATOR_BIN, ["migrate"], { env: dbEnv });
    await run(GENERATOR_BIN, ["import"], { env: dbEnv });
    const count = Number((await psql(dbUrl, "SELECT count(*) FROM products")).trim());
    assert.ok(count >= 100, `generator import loaded ${count} products; expected the 100 of content/`);

    // A bucket of our own.
    s3 = s3Client(endpoint, `shop-admin-${stamp.replace(/_/g, "-")}`);
    await s3.createBucket();

    // The admin user.
    await run(API_BIN, ["admin", "create-user", "--email", ADMIN_EMAIL], {
      env: dbEnv,
      input: ADMIN_PASSWORD + "\n",
    });

    // The api, publishing to our bucket, reading and writing our database's
    // primary, with a state folder (uploads, the image cache) of its own.
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "shop-admin-state-"));
    api = await startApi(
      childEnv(
        {
          DATABASE_URL: dbUrl,
          API_ADDR: "127.0.0.1:0",
          S3_BUCKET: s3.bucket,
          AWS_ENDPOINT_URL: s3.endpoint,
          AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID || "test",
          AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY || "test",
          AWS_REGION: process.env.AWS_REGION || "us-east-1",
          SESSION_SECRET: randomBytes(32).toString("hex"),
          STATE_DIR: stateDir,
          CONTENT_DIR: path.join(REPO_ROOT, "content"),
          THEMES_DIR: path.join(REPO_ROOT, "themes"),
          RUST_LOG: "warn",
          NO_COLOR: "1",
        },
        [
          "DATABASE_REPLICA_URL",
          "S3_PREFIX",
          "API_NO_WORKER",
          "PUBLISH_DIR",
          "LOG_FORMAT",
          "TRUSTED_PROXIES",
        ],
      ),
    );
    base = api.origin;
    const ready = await fetch(base + "/readyz");
    await ready.arrayBuffer();
    assert.equal(ready.status, 200, `${base}/readyz`);

    // The first publish: the whole storefront is in the bucket.
    await waitFor(async () => (await s3.get("products.json")).status === 200, "products.json is in the bucket");

    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: NAV_MS,
    });
    context = await browser.newContext({ viewport: VIEWPORT });
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(NAV_MS);
    watcher = watchContext(context, "admin context");
    await onlyOrigin(context, base, watcher);
  }

  after(
    async () => {
      // Each step on its own, so that one failing leaks none of the others.
      await context?.close().catch(() => {});
      await browser?.close().catch(() => {});
      await stopProcess(api?.child).catch((e) => console.error(`could not stop the api: ${e.message}`));
      if (stateDir) await fs.rm(stateDir, { recursive: true, force: true }).catch(() => {});
      if (dbName) {
        await psql(adminDbUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((e) =>
          console.error(`could not drop the database ${dbName}: ${e.message}`),
        );
      }
    },
    { timeout: SETUP_MS },
  );

  // Should the runner go away without running `after`, the api goes too.
  process.once("exit", () => {
    if (api?.child && api.child.exitCode === null && api.child.signalCode === null) api.child.kill("SIGKILL");
  });

  // 1 ------------------------------------------------------------------------
  step("the log-in page has no serious accessibility violations", async (t, newPage) => {
    await axeCheck(browser, `${base}/admin/login`, "log-in page");
    // The same page in the normal context, under the admin's CSP.
    const page = await newPage();
    const res = await goto(page, "/admin/login");
    assert.equal(res.status(), 200, "/admin/login");
    assert.ok(res.headers()["content-security-policy"], "the admin sends a Content-Security-Policy");
  });

  // 2 ------------------------------------------------------------------------
  step("log in: a wrong password gets the generic message, the right one the product list", async (t, newPage) => {
    const page = await newPage();
    // Not logged in yet: the list sends us to the log-in page.
    await goto(page, "/admin/products");
    assertPath(page, "/admin/login", "not logged in, /admin/products leads to the log-in page");

    await goto(page, "/admin/login");
    const form = page.locator("form#login");
    await assertLabelled(form, "E-mail", "email");
    await assertLabelled(form, "Password", "password");

    await form.locator('[name="email"]').fill(ADMIN_EMAIL);
    await form.locator('[name="password"]').fill("not the password at all");
    await navigation(page, () => form.getByRole("button", { name: "Log in" }).click());
    await expectAlert(page, "The e-mail address or the password is wrong.", "failed log-in");
    assert.equal(await page.locator("form#login").count(), 1, "the log-in form is shown again");

    await page.locator('form#login [name="email"]').fill(ADMIN_EMAIL);
    await page.locator('form#login [name="password"]').fill(ADMIN_PASSWORD);
    const logIn = page.locator("form#login").getByRole("button", { name: "Log in" });
    const res = await navigation(page, () => logIn.click());
    assert.equal(await redirectStatus(res), 303, "a successful log-in answers 303");
    assert.equal(res.status(), 200);
    assertPath(page, "/admin/products", "after logging in");

    // The navigation every page has.
    const nav = page.locator("nav").filter({ has: page.getByRole("link", { name: "Products", exact: true }) }).first();
    for (const [name, href] of [
      ["Products", "/admin/products"],
      ["New product", "/admin/products/new"],
      ["Import CSV", "/admin/import"],
      ["Export CSV", "/admin/export.csv"],
      ["Publishing", "/admin/publishing"],
    ]) {
      const link = nav.getByRole("link", { name, exact: true });
      assert.equal(await link.count(), 1, `the nav has a link "${name}"`);
      assert.equal(new URL(await link.getAttribute("href"), base).pathname, href, `the nav link "${name}"`);
    }
    const logout = nav.getByRole("button", { name: "Log out", exact: true });
    assert.equal(await logout.count(), 1, 'the nav has a "Log out" button');
    const logoutForm = await logout.evaluate((b) => ({
      method: (b.form?.getAttribute("method") || "get").toLowerCase(),
      action: b.form ? new URL(b.form.action).pathname : null,
    }));
    assert.deepEqual(logoutForm, { method: "post", action: "/admin/logout" }, '"Log out" posts to /admin/logout');

    const rows = await readProductRows(page);
    assert.ok(rows.length > 0, "the product list shows products");
  });

  // 3 ------------------------------------------------------------------------
  step("create a product with an image: validation, Markdown preview, save", async (t, newPage) => {
    const page = await newPage();
    await goto(page, "/admin/products");
    await navigation(page, () => page.locator("nav").getByRole("link", { name: "New product", exact: true }).click());
    assertPath(page, "/admin/products/new", 'the nav link "New product"');

    const form = page.locator("form#product");
    assert.equal(
      (await form.getAttribute("enctype"))?.toLowerCase(),
      "multipart/form-data",
      "form#product is multipart/form-data",
    );
    for (const [label, name] of [
      ["Name", "name"],
      ["Slug", "slug"],
      ["Price", "price"],
      ["Category", "category"],
      ["Stock", "stock_quantity"],
      ["Description", "description"],
      ["Add images", "image"],
    ]) {
      await assertLabelled(form, label, name);
    }
    assert.equal(await form.locator('textarea[name="description"]').count(), 1, "the description is a textarea");
    const fileInput = form.locator('input[type="file"][name="image"]');
    assert.equal(await fileInput.count(), 1, "the images are a file input");
    assert.equal(await fileInput.getAttribute("multiple"), "", "the file input takes several files");
    assert.match(
      (await page.locator("#image-hint").textContent()).replace(/\s+/g, " "),
      /JPEG, PNG or WebP \(a phone's photo is fine\), at most 25 MiB each\./,
      "the file input's hint",
    );
    assert.equal(await form.locator('input[name^="image_url_"]').count(), 0, "a new product has no images yet");
    const list = await form.locator('input[name="category"]').getAttribute("list");
    assert.ok(list, "the category input has a datalist");
    const options = await page.locator(`datalist[id="${list}"] option`).evaluateAll((os) => os.map((o) => o.value));
    assert.ok(options.includes("Kitchen"), `the category datalist offers the existing categories: ${options}`);

    // A bad price first: the error is shown by the field and the typed values stay.
    await fillProduct(page, {
      name: shop.kettle.name,
      price: "-1",
      category: "Kitchen",
      stock_quantity: "3",
      description: "A kettle with **bold** handles.",
      image: filePayload("kettle.png", "image/png", PNG_1X1),
    });
    await page.locator("#preview strong").filter({ hasText: "bold" }).waitFor({ state: "visible" });
    // The server's validation is under test: should the browser's own checks
    // (say, min="0" on the price) refuse the value too, they are switched off.
    const browserRefuses = await form.evaluate((f) => {
      const refuses = !f.checkValidity();
      f.noValidate = true;
      return refuses;
    });
    if (browserRefuses) t.diagnostic("the browser's own form validation refuses the price -1 as well");
    const refused = await saveProduct(page);
    assert.equal(refused.status(), 422, "a form with a bad field answers 422");
    await expectAlert(page, /\S/, "the error summary at the top");
    await expectVisible(page, "#price-error", /\S/, "the price's error");
    assert.equal(await page.locator('form#product [name="price"]').getAttribute("aria-invalid"), "true");
    assert.equal(await page.locator('form#product [name="name"]').inputValue(), shop.kettle.name, "the name is kept");
    assert.equal(await page.locator('form#product [name="price"]').inputValue(), "-1", "the typed price is kept");
    assert.equal(await page.locator('form#product [name="category"]').inputValue(), "Kitchen", "the category is kept");
    const nameInvalid = await page.locator('form#product [name="name"]').getAttribute("aria-invalid");
    assert.notEqual(nameInvalid, "true", "the name is not marked invalid");
    // The good image was stored at once and is in the list already, without alt text.
    shop.imageHash = sha256Hex(PNG_1X1);
    shop.mainImageHash = shop.imageHash;
    assert.deepEqual(
      await imageUrls(page),
      [`/images/${shop.imageHash}.png`],
      "the image chosen with the failed save is in the list, under its SHA-256",
    );
    await expectVisible(page, "form#product p.field-warning", "No alt text yet.", "the image without alt text");
    await assertLabelled(form, "Main image: alt text", "image_alt_0");
    await screenshot(page, "admin-edit-validation.png");

    // Fixed, and the same image chosen again (as someone who thinks it was
    // lost would): it is not added twice. Saved.
    // A new product starts as a draft; this one goes live at once.
    assert.equal(await form.locator('select[name="status"]').inputValue(), "draft", "a new product starts as a draft");
    await fillProduct(page, { price: "24.00", status: "active", image: filePayload("kettle.png", "image/png", PNG_1X1) });
    const res = await saveProduct(page);
    assert.equal(await redirectStatus(res), 303, "a successful save answers 303");
    shop.kettle.id = editedId(page);
    await expectStatus(page, "Saved.");
    assert.equal(await page.locator('form#product [name="name"]').inputValue(), shop.kettle.name);
    assert.match(await page.locator('form#product [name="price"]').inputValue(), /^24(\.00?)?$/);

    const product = await apiProduct(page, shop.kettle.id);
    assert.equal(product.slug, shop.kettle.slug, "the slug is made from the name");
    assert.equal(product.price, "24.00");
    assert.equal(product.category, "Kitchen");
    assert.equal(product.stock_quantity, 3);
    assert.equal(product.image_url, `/images/${shop.imageHash}.png`, "the image is stored under its SHA-256");
    assert.deepEqual(
      product.images,
      [{ url: `/images/${shop.imageHash}.png`, alt: "" }],
      "the product has exactly one image: choosing it again did not duplicate it",
    );
    assert.deepEqual(await imageUrls(page), [`/images/${shop.imageHash}.png`], "the edit page lists one image");

    // The edit page's links.
    const href = async (name) => page.getByRole("link", { name, exact: true }).getAttribute("href");
    assert.equal(new URL(await href("History"), base).pathname, `/admin/products/${shop.kettle.id}/history`);
    assert.equal(new URL(await href("Delete"), base).pathname, `/admin/products/${shop.kettle.id}/delete`);
    const live = new URL(await href("View live page")); // throws unless absolute
    assert.match(live.protocol, /^https?:$/);
    assert.equal(live.pathname, `/products/${shop.kettle.slug}/`, "View live page points at the storefront's page");

    await axeCheck(browser, page.url(), "edit page", await context.storageState());
  });

  // 4 ------------------------------------------------------------------------
  step("the storefront in the bucket gets the new product and its image", async (t, newPage) => {
    const kettle = need(shop.kettle.id, "the kettle") && shop.kettle;
    const pageKey = `products/${kettle.slug}/index.html`;
    const html = await waitFor(async () => {
      const text = await s3.text(pageKey);
      return text && text.includes("24.00") ? text : null;
    }, `${pageKey} is in the bucket with the price 24.00`);
    assert.ok(html.includes(kettle.name), `${pageKey} names the product`);
    // The upload is published as its variants (re-encoded: no metadata),
    // through <picture>; the uploaded file itself never is.
    const variant = new RegExp(`/images/v/${shop.imageHash}-[0-9a-f]{16}-[a-z0-9]+-1x1\\.webp`);
    const webp = html.match(variant);
    assert.ok(webp, `${pageKey} shows the uploaded image's WebP variant in a <picture>: ${html.slice(html.indexOf('class="product-image"'), html.indexOf('class="product-info"'))}`);
    assert.ok(html.includes('<source type="image/webp"'), `${pageKey} has a <picture>`);
    const image = await waitFor(async () => {
      const obj = await s3.get(webp[0].slice(1));
      return obj.status === 200 ? obj.body : null;
    }, `${webp[0]} is in the bucket`);
    assert.equal(image.subarray(8, 12).toString("latin1"), "WEBP", "the variant is a WebP");
    assert.equal((await s3.get(`images/${shop.imageHash}.png`)).status, 404, "the uploaded file itself is not published");
    const entry = await listedInBucket(kettle.slug, "products.json lists the product");
    assert.equal(entry.price, "24.00");

    // The page in a browser, straight from the bucket.
    const shopContext = await bucketContext(t, { viewport: VIEWPORT });
    const page = await shopContext.newPage();
    const res = await page.goto(s3.objectUrl(pageKey), { waitUntil: "load" });
    assert.equal(res.status(), 200);
    assert.equal((await page.locator("h1").first().textContent()).trim(), kettle.name);
    const img = page.locator(`img[src*="${shop.imageHash}"]`).first();
    await img.scrollIntoViewIfNeeded();
    await page.waitForFunction((el) => el.complete, await img.elementHandle());
    assert.ok((await img.evaluate((el) => el.naturalWidth)) > 0, "the product image decodes in the browser");
    await screenshot(page, "admin-storefront.png");
  });

  // 5 ------------------------------------------------------------------------
  step("edit the price: the storefront follows", async (t, newPage) => {
    const kettle = need(shop.kettle.id, "the kettle") && shop.kettle;
    const page = await newPage();
    await goto(page, `/admin/products/${kettle.id}/edit`);
    assert.equal(await page.locator('form#product [name="name"]').inputValue(), kettle.name);
    await fillProduct(page, { price: "26.50" });
    const res = await saveProduct(page);
    assert.equal(await redirectStatus(res), 303);
    assertPath(page, `/admin/products/${kettle.id}/edit`, "after saving");
    await expectStatus(page, "Saved.");
    assert.equal((await apiProduct(page, kettle.id)).price, "26.50");

    const pageKey = `products/${kettle.slug}/index.html`;
    await waitFor(async () => (await s3.text(pageKey))?.includes("26.50"), `${pageKey} shows the price 26.50`);
  });

  // 6 ------------------------------------------------------------------------
  step(
    "a 10 MB phone photo: added in the admin, made the main image, published as the WebP variant a 390 px phone needs",
    async (t, newPage) => {
      const kettle = need(shop.kettle.id, "the kettle") && shop.kettle;
      const pngUrl = `/images/${need(shop.imageHash, "the kettle's first image")}.png`;
      const page = await newPage();

      // A phone's photo: 4000×3000 (12 MP), a JPEG of about 10 MB, made here
      // in Chromium (the page is still about:blank).
      const photo = await noisyJpeg(page, { width: 4000, height: 3000, quality: 0.95 });
      assert.ok(photo.length >= 8 * MIB, `the photo is phone-size: ${photo.length} bytes, at least 8 MiB`);
      assert.ok(photo.length < 25 * MIB, `the photo is under the 25 MiB limit: ${photo.length} bytes`);
      const photoHash = sha256Hex(photo);
      const photoUrl = `/images/${photoHash}.jpg`;
      const photoAlt = "The kettle on a stove, steam rising from its spout";
      t.diagnostic(`the photo: 4000x3000, ${photo.length} bytes (${(photo.length / 1e6).toFixed(1)} MB)`);

      // Added on the kettle's edit page: it joins the list after the PNG.
      const editPath = `/admin/products/${kettle.id}/edit`;
      await goto(page, editPath);
      assert.deepEqual(await imageUrls(page), [pngUrl], "before: the kettle has its PNG only");
      await fillProduct(page, { image: filePayload("IMG_4031.jpg", "image/jpeg", photo) });
      let res = await saveProduct(page);
      assert.equal(await redirectStatus(res), 303, "saving with the photo answers 303");
      assertPath(page, editPath, "after saving the photo");
      await expectStatus(page, "Saved.");
      assert.deepEqual(await imageUrls(page), [pngUrl, photoUrl], "the photo is the second image");
      await assertLabelled(page.locator("form#product"), "Image 2: alt text", "image_alt_1");
      const warning = page.locator("#image_alt_1-warning");
      assert.equal((await warning.textContent()).trim(), "No alt text yet.", "the new photo has no alt text yet");

      // Its alt text, saved.
      await fillProduct(page, { image_alt_1: photoAlt });
      res = await saveProduct(page);
      assert.equal(await redirectStatus(res), 303, "saving the alt text answers 303");
      await expectStatus(page, "Saved.");
      assert.deepEqual(await imageAlts(page), ["", photoAlt], "the photo's alt text is kept");
      assert.equal(await page.locator("#image_alt_1-warning").count(), 0, "no warning once it has alt text");
      let product = await apiProduct(page, kettle.id);
      assert.deepEqual(
        product.images,
        [
          { url: pngUrl, alt: "" },
          { url: photoUrl, alt: photoAlt },
        ],
        "the API has two images, the photo second",
      );
      assert.equal(product.image_url, pngUrl, "image_url is still the PNG");

      // The product page in the bucket shows it in the gallery, through <picture>.
      const pageKey = `products/${kettle.slug}/index.html`;
      const photoVariant = new RegExp(`/images/v/${photoHash}-[0-9a-f]{16}-[a-z0-9]+-\\d+x\\d+\\.webp`);
      const galleryHtml = await waitFor(
        async () => {
          const gallery = between((await s3.text(pageKey)) || "", '<ul class="gallery"', "</ul>");
          const shown = photoVariant.test(webpSrcset(gallery) || "") && gallery.includes(`alt="${photoAlt}"`);
          return shown ? gallery : null;
        },
        `${pageKey} shows the photo, with its alt text, in its gallery`,
        PHOTO_PUBLISH_MS,
      );
      assert.ok(galleryHtml.includes("<picture>"), `the gallery shows the photo through <picture>: ${galleryHtml}`);

      // "Make main image" on image 2: the list comes back swapped, not saved.
      const makeMain = page.locator('form#product button[name="image_op"][value="up:1"]');
      assert.equal((await makeMain.textContent()).trim(), "Make main image", "image 2's button");
      res = await navigation(page, () => makeMain.click());
      assert.equal(res.status(), 200, '"Make main image" shows the form again (200)');
      assert.equal(await redirectStatus(res), null, '"Make main image" saves nothing (no redirect)');
      await expectStatus(page, "Images changed; save to keep the change.");
      assert.deepEqual(await imageUrls(page), [photoUrl, pngUrl], "the photo is the main image now");
      assert.deepEqual(await imageAlts(page), [photoAlt, ""], "its alt text moved with it");
      await assertLabelled(page.locator("form#product"), "Main image: alt text", "image_alt_0");
      assert.equal(
        (await page.locator('form#product button[name="image_op"][value="up:1"]').textContent()).trim(),
        "Make main image",
        "the PNG, second now, can be made the main image again",
      );
      product = await apiProduct(page, kettle.id);
      assert.equal(product.images[0].url, pngUrl, "nothing is saved until Save");
      await screenshot(page, "admin-images.png");

      res = await saveProduct(page);
      assert.equal(await redirectStatus(res), 303, "saving the new order answers 303");
      await expectStatus(page, "Saved.");
      assert.deepEqual(await imageUrls(page), [photoUrl, pngUrl], "the saved order");
      product = await apiProduct(page, kettle.id);
      assert.deepEqual(
        product.images,
        [
          { url: photoUrl, alt: photoAlt },
          { url: pngUrl, alt: "" },
        ],
        "the API has the photo first",
      );
      assert.equal(product.image_url, photoUrl, "image_url is the photo's");
      shop.mainImageHash = photoHash;

      // The bucket's page: the main <picture> is the photo's variants, at
      // every width up to 1920 and never wider than the photo.
      const mainHtml = await waitFor(
        async () => {
          const main = between((await s3.text(pageKey)) || "", '<div class="product-image">', '<ul class="gallery"');
          return photoVariant.test(webpSrcset(main) || "") ? main : null;
        },
        `${pageKey} shows the photo as its main image`,
      );
      assert.ok(mainHtml.includes("<picture>"), "the main image is a <picture>");
      const published = srcsetEntries(webpSrcset(mainHtml));
      for (const { url, width } of published) {
        const v = variantOf(url);
        assert.equal(v.stem, photoHash, `${url} is named with the photo's SHA-256`);
        assert.equal(v.ext, "webp", `${url} is a WebP`);
        assert.equal(v.width, width, `${url} is ${width} wide, as its srcset entry says`);
        assert.equal(v.height, Math.round((width * 3000) / 4000), `${url} keeps the photo's 4:3`);
        assert.ok(width <= 4000, `${url} is no wider than the photo`);
      }
      const widths = published.map((e) => e.width);
      for (const w of [320, 640, 960, 1280, 1920]) {
        assert.ok(widths.includes(w), `the WebP srcset has the ${w}w variant: ${widths}`);
      }
      assert.equal((await s3.get(`images/${photoHash}.jpg`)).status, 404, "the uploaded photo itself is not published");

      // On a phone: 390×844 CSS px at 2 device px each.
      const phone = await bucketContext(t, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
      const shopPage = await phone.newPage();
      const shown = await shopPage.goto(s3.objectUrl(pageKey), { waitUntil: "load" });
      assert.equal(shown.status(), 200);
      const mainImg = shopPage.locator(".product-image > picture > img");
      assert.equal(await mainImg.count(), 1, "the page has one main image in a <picture>");
      await shopPage.waitForFunction((img) => img.complete && img.naturalWidth > 0, await mainImg.elementHandle());
      const seen = await mainImg.evaluate((img) => ({
        currentSrc: img.currentSrc,
        cssWidth: img.getBoundingClientRect().width,
        dpr: window.devicePixelRatio,
        srcset: img.parentElement.querySelector('source[type="image/webp"]').getAttribute("srcset"),
        fetchpriority: img.getAttribute("fetchpriority"),
        loading: img.getAttribute("loading"),
        alt: img.getAttribute("alt"),
      }));
      const chosen = variantOf(seen.currentSrc);
      const needed = seen.cssWidth * seen.dpr;
      const offered = srcsetEntries(seen.srcset)
        .map((e) => e.width)
        .sort((a, b) => a - b);
      const expected = offered.find((w) => w >= needed) ?? offered[offered.length - 1];
      t.diagnostic(
        `on a 390 px phone at DPR ${seen.dpr}: the slot is ${seen.cssWidth} CSS px (${needed} device px); ` +
          `currentSrc ${new URL(seen.currentSrc).pathname}`,
      );
      assert.equal(seen.dpr, 2);
      assert.ok(["webp", "avif"].includes(chosen.ext), `the phone shows a WebP or AVIF variant: ${seen.currentSrc}`);
      assert.equal(chosen.stem, photoHash, `the phone shows the photo: ${seen.currentSrc}`);
      assert.equal(
        chosen.width,
        expected,
        `the phone gets the smallest variant at least ${needed} px wide (${seen.cssWidth} CSS px × ${seen.dpr}), ` +
          `of ${offered}: ${seen.currentSrc}`,
      );
      assert.equal(seen.fetchpriority, "high", "the main image is fetched first");
      assert.equal(seen.loading, "eager", "the main image loads eagerly");
      assert.equal(seen.alt, photoAlt, "the main image has the photo's alt text");
      const galleryLoading = await shopPage
        .locator(".product-image ul.gallery img")
        .evaluateAll((imgs) => imgs.map((i) => i.getAttribute("loading")));
      assert.ok(galleryLoading.length >= 1, "the gallery shows the other image");
      assert.deepEqual(
        galleryLoading,
        galleryLoading.map(() => "lazy"),
        "the gallery's images load lazily",
      );
      await screenshot(shopPage, "admin-storefront-phone.png");
    },
    { timeout: PHOTO_TEST_MS },
  );

  // 7 ------------------------------------------------------------------------
  step("two admins save the same product: the second gets the conflict page", async (t, newPage) => {
    const kettle = need(shop.kettle.id, "the kettle") && shop.kettle;
    const contextB = await browser.newContext({ viewport: VIEWPORT, storageState: await context.storageState() });
    t.after(() => contextB.close().catch(() => {}));
    contextB.setDefaultTimeout(WAIT_MS);
    contextB.setDefaultNavigationTimeout(NAV_MS);
    const watcherB = watchContext(contextB, "second admin context");
    await onlyOrigin(contextB, base, watcherB);

    const editPath = `/admin/products/${kettle.id}/edit`;
    const pageB = await contextB.newPage();
    await pageB.goto(base + editPath, { waitUntil: "load" });
    assertPath(pageB, editPath, "B opens the edit page");

    const pageA = await newPage();
    await goto(pageA, editPath);
    await fillProduct(pageA, { stock_quantity: "5" });
    await saveProduct(pageA);
    await expectStatus(pageA, "Saved.", "A saves first");

    await fillProduct(pageB, { price: "27.00" });
    const res = await saveProduct(pageB);
    assert.equal(res.status(), 412, "a save of a stale version answers 412");
    const conflict = pageB.locator("#conflict");
    await conflict.waitFor({ state: "visible" });
    assert.equal(await conflict.getAttribute("role"), "alert", "#conflict is an alert");
    assert.match(await conflict.textContent(), /Someone else changed this product/);
    assert.equal(await pageB.getByRole("link", { name: "Reload their version" }).count(), 1);
    assert.equal(await pageB.getByRole("button", { name: "Save mine anyway" }).count(), 1);
    await screenshot(pageB, "admin-conflict.png");

    // Nothing of B's was saved.
    const product = await apiProduct(pageA, kettle.id);
    assert.equal(product.price, "26.50", "B's price was not saved");
    assert.equal(product.stock_quantity, 5, "A's stock was kept");

    // "Reload their version" shows A's save.
    await navigation(pageB, () => pageB.getByRole("link", { name: "Reload their version" }).click());
    assert.equal(await pageB.locator('form#product [name="stock_quantity"]').inputValue(), "5");
    assert.match(await pageB.locator('form#product [name="price"]').inputValue(), /^26\.50?$/);
    watcherB.assertClean("the conflict");
  });

  // 8 ------------------------------------------------------------------------
  step("image uploads: a non-image and an oversized image are refused, nothing stored", async (t, newPage) => {
    const page = await newPage();
    const common = { price: "5.00", category: "Kitchen", stock_quantity: "1", description: "Upload check." };

    const notImage = "Test Upload Not An Image";
    let res = await createProduct(page, {
      ...common,
      name: notImage,
      image: filePayload("x.png", "image/png", "this is plain text, not a picture\n"),
    });
    assert.equal(res.status(), 422, "a non-image answers 422");
    await expectVisible(page, "#image-error", '"x.png" is not a JPEG, PNG or WebP image', "a text file as the image");
    assert.equal(await page.locator('form#product [name="image"]').getAttribute("aria-invalid"), "true");
    assert.equal(await page.locator('form#product [name="name"]').inputValue(), notImage, "the name is kept");
    assert.deepEqual(await imageUrls(page), [], "the refused file is not in the image list");
    const textHash = sha256Hex(Buffer.from("this is plain text, not a picture\n"));
    assert.equal((await page.request.get(`${base}/admin/images/${textHash}.png`)).status(), 404, "it was not stored");

    // Real PNG bytes at the start, so only the size is wrong.
    const huge = Buffer.alloc(25 * MIB + 1);
    PNG_1X1.copy(huge);
    const tooBig = "Test Upload Too Big";
    res = await createProduct(page, { ...common, name: tooBig, image: filePayload("big.png", "image/png", huge) });
    assert.equal(res.status(), 422, "an image of 25 MiB + 1 byte answers 422");
    await expectVisible(
      page,
      "#image-error",
      '"big.png" is larger than 25 MiB; export it smaller and try again',
      "an image of 25 MiB + 1 byte",
    );
    assert.equal(await page.locator('form#product [name="name"]').inputValue(), tooBig, "the name is kept");
    assert.equal(await page.locator('form#product [name="price"]').inputValue(), common.price, "the price is kept");
    assert.equal(
      await page.locator('form#product [name="description"]').inputValue(),
      common.description,
      "the description is kept",
    );
    assert.deepEqual(await imageUrls(page), [], "the oversized file is not in the image list");

    for (const name of [notImage, tooBig]) {
      const rows = await listRows(page, { q: name });
      assert.deepEqual(
        rows.filter((r) => r.name === name),
        [],
        `no product "${name}" was created`,
      );
    }
    const hugeHash = sha256Hex(huge);
    assert.equal((await s3.get(`images/${hugeHash}.png`)).status, 404, "the oversized image was not published");
    const stored = await page.request.get(`${base}/admin/images/${hugeHash}.png`);
    assert.equal(stored.status(), 404, "the oversized image was not stored");
  });

  // 9 ------------------------------------------------------------------------
  step("CSV: export guards formulas, import checks every row, names stay inert", async (t, newPage) => {
    const kettle = need(shop.kettle.id, "the kettle") && shop.kettle;
    const page = await newPage();

    // A product whose name (or, if names refuse it, description) is a spreadsheet formula.
    let res = await createProduct(page, {
      name: FORMULA,
      price: "1.00",
      category: "Kitchen",
      stock_quantity: "1",
      description: "Formula guard check.",
    });
    if (await page.locator("#name-error").isVisible()) {
      const why = (await page.locator("#name-error").textContent()).trim();
      t.diagnostic(`the name ${FORMULA} was refused (${why}); the description carries it`);
      res = await createProduct(page, {
        name: "Test Formula Guard",
        price: "1.00",
        category: "Kitchen",
        stock_quantity: "1",
        description: FORMULA,
      });
      shop.formula.field = "description";
    } else {
      shop.formula.field = "name";
    }
    if ((await redirectStatus(res)) !== 303) {
      assert.fail(`the formula product was not saved; the page:\n${await describePage(page)}`);
    }
    shop.formula.id = editedId(page);
    await expectStatus(page, "Saved.");

    // Export (the nav link, fetched with the session's cookie).
    const exportLink = page.locator("nav").getByRole("link", { name: "Export CSV", exact: true });
    const exportHref = await exportLink.getAttribute("href");
    const exported = await page.request.get(new URL(exportHref, base).href);
    assert.equal(exported.status(), 200, "the export answers 200");
    assert.match(exported.headers()["content-type"] || "", /^text\/csv\b/, "the export is text/csv");
    const csvText = await exported.text();
    const rows = parseCsv(csvText);
    assert.equal(rows[0].join(","), CSV_HEADER, "the export's header");
    const records = csvRecords(rows);
    assert.equal(records.length, 102, "the export has content/'s 100 products, the kettle and the formula product");
    const byId = new Map(records.map((r) => [r.product_id, r]));
    assert.equal(byId.get(kettle.id)?.slug, kettle.slug, "the kettle is exported");
    assert.equal(byId.get(kettle.id)?.price, "26.50");
    const formulaRow = byId.get(shop.formula.id);
    assert.ok(formulaRow, "the formula product is exported");
    assert.equal(formulaRow[shop.formula.field], `'${FORMULA}`, "a cell starting with = gets a leading apostrophe");
    assert.ok(
      csvText.includes(`"'${FORMULA.replace(/"/g, '""')}"`),
      "the guarded cell is quoted in the CSV text",
    );
    const unguarded = rows.flat().filter((cell) => /^[=+\-@]/.test(cell));
    assert.deepEqual(unguarded, [], "no exported cell starts with = + - or @");

    // An existing product to update by slug: one of content/'s, nothing in its row guarded.
    const target = records.find(
      (r) =>
        r.product_id !== kettle.id &&
        r.product_id !== shop.formula.id &&
        r.price !== "9.00" &&
        Object.values(r).every((v) => !/^['=+\-@]/.test(v)),
    );
    assert.ok(target, "some exported product can be re-imported unchanged");
    shop.updated = { id: target.product_id, slug: target.slug, name: target.name };
    const header = CSV_HEADER.split(",");
    const mug = {
      slug: shop.mug.slug,
      name: shop.mug.name,
      price: "12.00",
      category: "Kitchen",
      stock_quantity: "7",
      description: "A mug for the test.",
    };
    const mugRow = header.map((h) => mug[h] ?? "");
    const targetRow = (price) => header.map((h) => (h === "price" ? price : target[h]));

    const importCsv = async (csv, fileName) => {
      await goto(page, "/admin/products");
      await navigation(page, () => page.locator("nav").getByRole("link", { name: "Import CSV", exact: true }).click());
      assertPath(page, "/admin/import", 'the nav link "Import CSV"');
      const form = page.locator("form#import");
      await assertLabelled(form, "CSV file", "csv");
      await form.locator('input[type="file"][name="csv"]').setInputFiles(filePayload(fileName, "text/csv", csv));
      return navigation(page, () => form.getByRole("button", { name: "Check", exact: true }).click());
    };

    // Line 3 has a bad price: the preview lists it and offers no way to apply.
    await importCsv(toCsv([header, mugRow, targetRow("abc")]), "bad-price.csv");
    const errors = page.locator("#import-errors");
    try {
      await errors.waitFor({ state: "visible" });
    } catch (err) {
      throw new Error(`no #import-errors for a bad price; the page:\n${await describePage(page)}`, { cause: err });
    }
    assert.equal(await errors.getAttribute("role"), "alert", "#import-errors is an alert");
    const errorText = (await errors.textContent()).replace(/\s+/g, " ");
    assert.match(
      errorText,
      /Line 3: price:/,
      "the error names the line and the field (the file has CRLF line endings, as spreadsheets write them)",
    );
    assert.doesNotMatch(errorText, /Line 2\b/, "the good row has no error");
    assert.equal(await page.getByRole("button", { name: "Apply import" }).count(), 0, "a bad file cannot be applied");
    await screenshot(page, "admin-import-error.png");

    // Fixed: one to create, one to update.
    await importCsv(toCsv([header, mugRow, targetRow("9.00")]), "fixed.csv");
    const preview = page.locator("table#import-preview");
    try {
      await preview.waitFor({ state: "visible" });
    } catch (err) {
      throw new Error(`no table#import-preview for a good file; the page:\n${await describePage(page)}`, {
        cause: err,
      });
    }
    const previewRows = await preview.locator("tr").evaluateAll((trs) =>
      trs.map((tr) => [...tr.cells].map((td) => td.textContent.replace(/\s+/g, " ").trim()).join(" | ")),
    );
    const rowOf = (needle) => previewRows.find((r) => r.includes(needle));
    assert.match(rowOf(shop.mug.slug) || rowOf("Zeta Mug") || "", /\bcreate\b/i, "the mug is to be created");
    assert.match(rowOf(target.slug) || "", /\bupdate\b/i, `${target.slug} is to be updated`);
    const body = (await page.locator("body").innerText()).replace(/\s+/g, " ");
    assert.match(body, /(?<!\d)1 to create\b/, "the preview counts one to create");
    assert.match(body, /(?<!\d)1 to update\b/, "the preview counts one to update");
    assert.equal(await page.locator('img[src="x"], [onerror]').count(), 0, "the preview shows the name as text");
    const apply = page.getByRole("button", { name: "Apply import", exact: true });
    const applied = await navigation(page, () => apply.click());
    assert.equal(applied.status(), 200);
    assertPath(page, "/admin/products", "after applying the import");
    await expectStatus(page, /^\s*Imported:/, "after applying the import");
    assert.equal((await apiProduct(page, target.product_id)).price, "9.00", `${target.slug} was updated`);

    // The name that looks like markup stays text: in the admin list ...
    const rowsNow = await listRows(page, { q: "Zeta Mug" });
    const mugListed = rowsNow.find((r) => r.name === shop.mug.name);
    assert.ok(mugListed, `the list shows the name literally; it shows ${JSON.stringify(rowsNow.map((r) => r.name))}`);
    shop.mug.id = mugListed.id;
    assert.equal(await page.locator('table#products img[src="x"]').count(), 0, "no img from the name in the table");
    assert.equal(await page.locator("[onerror]").count(), 0, "no element with an onerror handler");

    // ... and on the storefront.
    const mugKey = `products/${shop.mug.slug}/index.html`;
    const mugHtml = await waitFor(async () => {
      const text = await s3.text(mugKey);
      return text && text.includes("Zeta Mug") ? text : null;
    }, `${mugKey} is in the bucket`);
    assert.ok(!mugHtml.includes("<img src=x"), `${mugKey} has the name's markup unescaped`);
    assert.ok(mugHtml.includes("&lt;img src=x"), `${mugKey} shows the name escaped`);
  });

  // 10 -----------------------------------------------------------------------
  step("the publishing panel shows the builds and rebuilds on request", async (t, newPage) => {
    const page = await newPage();
    await goto(page, "/admin/products");
    await navigation(page, () => page.locator("nav").getByRole("link", { name: "Publishing", exact: true }).click());
    assertPath(page, "/admin/publishing", 'the nav link "Publishing"');
    const status = (await page.locator("#publish-status").textContent()).replace(/\s+/g, " ").trim();
    assert.match(status, /^(Up to date|Waiting)/, "#publish-status says whether the storefront is current");
    const builds = await page.locator("table#builds tr:has(td)").count();
    assert.ok(builds >= 1, `table#builds lists the builds so far (${builds} rows)`);
    await screenshot(page, "admin-publishing.png");

    await navigation(page, () => page.getByRole("button", { name: "Rebuild now", exact: true }).click());
    await expectStatus(page, /\S/, 'after "Rebuild now"');
  });

  // 11 -----------------------------------------------------------------------
  step("the product list searches, filters and sorts", async (t, newPage) => {
    const kettle = need(shop.kettle.id, "the kettle") && shop.kettle;
    const mugId = need(shop.mug.id, "the imported mug");
    const page = await newPage();
    await goto(page, "/admin/products");
    const filters = page.locator("form#filters");
    await assertLabelled(filters, "Search", "q");
    for (const name of ["category", "stock", "sort"]) {
      assert.equal(await filters.locator(`select[name="${name}"]`).count(), 1, `form#filters has select ${name}`);
    }
    await filters.locator('[name="q"]').fill("zeta");
    await filters.locator('select[name="stock"]').selectOption("in");
    await navigation(page, () => filters.getByRole("button", { name: "Filter", exact: true }).click());
    const params = new URL(page.url()).searchParams;
    assert.equal(params.get("q"), "zeta");
    assert.equal(params.get("stock"), "in");
    assert.equal(await page.locator('form#filters [name="q"]').inputValue(), "zeta", "the form keeps the query");

    const rows = await readProductRows(page);
    const ids = rows.map((r) => r.id).sort();
    const names = JSON.stringify(rows.map((r) => r.name));
    assert.deepEqual(ids, [kettle.id, mugId].sort(), `"zeta", in stock: the kettle and the mug; got ${names}`);
    for (const r of rows) {
      assert.match(r.name, /zeta/i);
      assert.equal(r.href, `/admin/products/${r.id}/edit`, `${r.name} links to its edit page`);
    }
    assert.match(rows.find((r) => r.id === kettle.id).text, /26\.50/, "the kettle's row shows its price");
    // The kettle has an image: its row shows it (the mug has none).
    await page.locator("table#products img").evaluateAll((imgs) => imgs.forEach((i) => (i.loading = "eager")));
    await page.waitForLoadState("networkidle");
    const thumbnail = page.locator(`table#products tr[data-product-id="${kettle.id}"] img`);
    assert.equal(await thumbnail.count(), 1, "the kettle's row has a thumbnail");
    assert.ok(
      (await thumbnail.getAttribute("src")).includes(shop.mainImageHash),
      "the thumbnail is the uploaded main image",
    );
    await page.waitForFunction((img) => img.complete, await thumbnail.elementHandle());
    assert.ok((await thumbnail.evaluate((img) => img.naturalWidth)) > 0, "the thumbnail decodes");
    await screenshot(page, "admin-list.png");

    // Out of stock: neither. Sorted by price both ways: the mug (12.00) is cheaper.
    assert.deepEqual(await listRows(page, { q: "zeta", stock: "out" }), [], '"zeta", out of stock: none');
    const byPrice = (await listRows(page, { q: "zeta", sort: "price" })).map((r) => r.id);
    assert.deepEqual(byPrice, [mugId, kettle.id], "sort=price: cheapest first");
    const byPriceDesc = (await listRows(page, { q: "zeta", sort: "-price" })).map((r) => r.id);
    assert.deepEqual(byPriceDesc, [kettle.id, mugId], "sort=-price: dearest first");

    await axeCheck(browser, `${base}/admin/products?q=zeta&stock=in`, "product list", await context.storageState());
  });

  // 12 -----------------------------------------------------------------------
  step("delete a product after confirming: it leaves the storefront", async (t, newPage) => {
    const kettle = need(shop.kettle.id, "the kettle") && shop.kettle;
    const page = await newPage();
    await goto(page, `/admin/products/${kettle.id}/edit`);
    await navigation(page, () => page.getByRole("link", { name: "Delete", exact: true }).click());
    assertPath(page, `/admin/products/${kettle.id}/delete`, 'the "Delete" link');
    await expectVisible(page, "body", `Delete ${kettle.name}?`, "the confirmation page");
    const res = await navigation(page, () => page.getByRole("button", { name: "Delete", exact: true }).click());
    assert.equal(await redirectStatus(res), 303);
    assertPath(page, "/admin/products", "after deleting");
    await expectStatus(page, `Deleted ${kettle.name}.`);
    const left = await listRows(page, { q: "zeta" });
    assert.ok(!left.some((r) => r.id === kettle.id), "the list no longer has the kettle");

    const pageKey = `products/${kettle.slug}/index.html`;
    await waitFor(async () => (await s3.get(pageKey)).status === 404, `${pageKey} is gone from the bucket`);
    const catalog = JSON.parse(await s3.text("products.json"));
    assert.ok(!catalog.products.some((p) => p.slug === kettle.slug), "products.json no longer lists the kettle");
  });

  // 13 -----------------------------------------------------------------------
  step("the history page lists the changes of an edited product", async (t, newPage) => {
    const updated = need(shop.updated, "the product updated by the CSV import");
    const page = await newPage();
    const editPath = `/admin/products/${updated.id}/edit`;
    await goto(page, editPath);
    const stock = await page.locator('form#product [name="stock_quantity"]').inputValue();
    const newStock = String(Number(stock) + 1);
    await fillProduct(page, { stock_quantity: newStock });
    await saveProduct(page);
    await expectStatus(page, "Saved.");

    await navigation(page, () => page.getByRole("link", { name: "History", exact: true }).click());
    assertPath(page, `/admin/products/${updated.id}/history`, 'the "History" link');
    const rows = await page.locator("table#history tr:has(td)").evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent.replace(/\s+/g, " ").trim())),
    );
    assert.ok(rows.length >= 1, "table#history has rows");
    const stockRow = rows.find(
      (cells) => cells.some((c) => /stock/i.test(c)) && cells.includes(stock) && cells.includes(newStock),
    );
    assert.ok(stockRow, `a row shows the stock going from ${stock} to ${newStock}; rows: ${JSON.stringify(rows)}`);
    assert.ok(stockRow.some((c) => c.includes(ADMIN_EMAIL)), `the row says who: ${JSON.stringify(stockRow)}`);
  });

  // 14 -----------------------------------------------------------------------
  step("sessions: the admin lists where it is logged in, and logs out everywhere else", async (t, newPage) => {
    // A second browser logs in on its own.
    const other = await browser.newContext({ viewport: VIEWPORT });
    t.after(() => other.close().catch(() => {}));
    other.setDefaultTimeout(WAIT_MS);
    other.setDefaultNavigationTimeout(NAV_MS);
    await onlyOrigin(other, base);
    const otherPage = await other.newPage();
    await otherPage.goto(`${base}/admin/login`, { waitUntil: "load" });
    await otherPage.locator('form#login [name="email"]').fill(ADMIN_EMAIL);
    await otherPage.locator('form#login [name="password"]').fill(ADMIN_PASSWORD);
    await navigation(otherPage, () => otherPage.locator("form#login").getByRole("button", { name: "Log in" }).click());
    assertPath(otherPage, "/admin/products", "the second browser is logged in");

    const page = await newPage();
    await goto(page, "/admin/products");
    await navigation(page, () => page.locator("nav").getByRole("link", { name: "Sessions", exact: true }).click());
    assertPath(page, "/admin/sessions", 'the "Sessions" link');
    const rows = page.locator("table#sessions tbody tr");
    assert.ok((await rows.count()) >= 2, `both browsers are listed: ${await describePage(page)}`);
    const mine = page.locator("table#sessions tr.this");
    assert.equal(await mine.count(), 1, "this browser's session is marked");
    assert.match(await mine.innerText(), /Chrome on Linux[\s\S]*127\.0\.0\.1/, "which browser, and from where");
    await axeCheck(browser, `${base}/admin/sessions`, "sessions page", await context.storageState());
    await screenshot(page, "admin-sessions.png");

    await navigation(page, () => page.getByRole("button", { name: "Log out everywhere else" }).click());
    await expectStatus(page, "Ended", "the sessions ended");
    assert.equal(await rows.count(), 1, "only this browser's session is left");
    await otherPage.goto(`${base}/admin/products`, { waitUntil: "load" });
    assertPath(otherPage, "/admin/login", "the other browser's session has ended");
  });

  // 15 -----------------------------------------------------------------------
  step("a draft: made, previewed in the storefront's template, then activated and live on sale", async (t, newPage) => {
    const board = { name: "Oiled Ash Serving Board", slug: "oiled-ash-serving-board" };
    const pageKey = `products/${board.slug}/index.html`;
    const page = await newPage();
    await goto(page, "/admin/products/new");
    const form = page.locator("form#product");
    for (const [label, name] of [
      ["Status", "status"],
      ["Compare-at price", "compare_at_price"],
      ["Search title", "seo_title"],
      ["Search description", "seo_description"],
      ["GTIN", "gtin"],
      ["Buy URL", "buy_url"],
    ]) {
      await assertLabelled(form, label, name);
    }
    await fillProduct(page, {
      name: board.name,
      price: "30.00",
      compare_at_price: "30.00",
      category: "Kitchen",
      stock_quantity: "4",
      description: "A serving board of **oiled ash**.",
      seo_title: "Ash serving board, oiled by hand",
    });
    // The search-result preview and the counter follow what is typed.
    await expectVisible(page, "#serp-title", "Ash serving board, oiled by hand", "the search-result preview's title");
    await expectVisible(page, "#seo_title-count", "32/70", "the search title's character count");
    await form.evaluate((f) => (f.noValidate = true));
    const refused = await saveProduct(page);
    assert.equal(refused.status(), 422, "a compare-at price not above the price is refused");
    await expectVisible(page, "#compare_at_price-error", /above the price/, "the compare-at price's error");
    await fillProduct(page, { compare_at_price: "38.00" });
    assert.equal(await redirectStatus(await saveProduct(page)), 303, "the draft is saved");
    board.id = editedId(page);
    assert.equal((await apiProduct(page, board.id)).status, "draft");

    // The list says it is a draft; the storefront has not heard of it.
    const drafts = await listRows(page, { status: "draft" });
    const row = drafts.find((r) => r.id === board.id);
    assert.ok(row, `the status filter lists the draft: ${JSON.stringify(drafts.map((r) => r.name))}`);
    assert.match(row.text, /Draft/, "its row has a Draft badge");
    assert.equal((await s3.get(pageKey)).status, 404, "a draft has no page in the bucket");
    const before = JSON.parse(await s3.text("products.json"));
    assert.ok(!before.products.some((p) => p.slug === board.slug), "products.json does not list the draft");

    // The preview: the storefront's own product template, behind the login.
    const preview = await newPage();
    const shown = await preview.goto(`${base}/admin/products/${board.id}/preview`, { waitUntil: "load" });
    assert.equal(shown.status(), 200);
    assert.equal(shown.headers()["cache-control"], "no-store");
    assert.equal((await preview.locator("h1").first().textContent()).trim(), board.name);
    await expectVisible(preview, ".preview-notice", "not published", "the preview's notice");
    await expectVisible(preview, ".product-price", /Sale/, "the sale in the preview");
    assert.equal(await preview.locator('meta[name="robots"]').getAttribute("content"), "noindex");
    const css = await preview.evaluate(() => [...document.styleSheets].some((s) => s.cssRules.length > 0));
    assert.ok(css, "the preview has the storefront's stylesheet");
    await screenshot(preview, "admin-preview.png");
    const stranger = await browser.newContext();
    t.after(() => stranger.close().catch(() => {}));
    const anon = await stranger.request.get(`${base}/admin/products/${board.id}/preview`, { maxRedirects: 0 });
    assert.ok([303, 302, 401].includes(anon.status()), `the preview needs a login: ${anon.status()}`);
    assert.equal((await stranger.request.get(`${base}/api/products/${board.id}`)).status(), 404, "a draft is not public in the api");

    // Activated: live, with the sale shown.
    await goto(page, `/admin/products/${board.id}/edit`);
    await fillProduct(page, { status: "active" });
    assert.equal(await redirectStatus(await saveProduct(page)), 303);
    const html = await waitFor(async () => {
      const text = await s3.text(pageKey);
      return text && text.includes(board.name) ? text : null;
    }, `${pageKey} is in the bucket once the product is active`);
    assert.ok(html.includes("<title>Ash serving board, oiled by hand</title>"), "the SEO title is the page's title");
    const shopContext = await bucketContext(t, { viewport: VIEWPORT });
    const live = await shopContext.newPage();
    assert.equal((await live.goto(s3.objectUrl(pageKey), { waitUntil: "load" })).status(), 200);
    const price = live.locator(".product-price");
    assert.match((await price.innerText()).replace(/\s+/g, " "), /Sale .*30\.00.*38\.00/, "the badge, the price and the old price");
    assert.match(await price.locator("s").textContent(), /was .*38\.00/, "the old price is struck through, and read as was");
    assert.equal(await live.locator(".badge-sale").isVisible(), true, "the Sale badge is shown");
    await screenshot(live, "storefront-sale.png");
    // The feeds, like the listings, go up after the product pages.
    const entry = await listedInBucket(board.slug, "products.json lists it once active");
    assert.equal(entry.compare_at_price, "38.00");
    await waitFor(async () => {
      const feed = await s3.text("feeds/google-merchant.xml");
      return feed && feed.includes(`<g:sale_price>30.00 EUR</g:sale_price>`);
    }, "the feed carries the sale");
  });

  // 16 -----------------------------------------------------------------------
  step("log out: the log-in page says so and the admin is closed again", async (t, newPage) => {
    const page = await newPage();
    await goto(page, "/admin/products");
    await navigation(page, () => page.locator("nav").getByRole("button", { name: "Log out", exact: true }).click());
    assertPath(page, "/admin/login", "after logging out");
    await expectStatus(page, "You are logged out.");

    await goto(page, "/admin/products");
    assertPath(page, "/admin/login", "after logging out, /admin/products leads to the log-in page");
  });
});
