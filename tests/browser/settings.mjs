// What both browser tests share: where the repository, the binaries and
// Chromium are, where screenshots go, and how Chromium is started.
// Settings come from the environment (see each test's header).

import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A binary from the environment (relative to the repository) or target/debug. */
function binary(variable, name) {
  return path.resolve(REPO_ROOT, process.env[variable] || path.join("target", "debug", name));
}

export const GENERATOR_BIN = binary("GENERATOR_BIN", "generator");
export const API_BIN = binary("API_BIN", "api");
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const SCREENSHOT_DIR = path.join(REPO_ROOT, "artifacts", "screenshots");
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
