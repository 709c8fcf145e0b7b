// Shopfront admin: progressive enhancements only; every page works without it.
"use strict";

// Live Markdown preview, rendered by the server with the storefront's own
// renderer and sanitizer.
(function () {
  const textarea = document.getElementById("description");
  const preview = document.getElementById("preview");
  const form = document.getElementById("product");
  if (!textarea || !preview || !form) return;
  const csrf = form.querySelector("input[name=csrf]");
  let timer = null;
  let sent = 0;
  textarea.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++sent;
      try {
        const response = await fetch("/admin/preview", {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ csrf: csrf ? csrf.value : "", markdown: textarea.value }),
          credentials: "same-origin",
        });
        if (response.ok && mine === sent) {
          // Sanitized on the server by the same code as the storefront.
          preview.innerHTML = await response.text();
        }
      } catch (_) {
        // The preview is a convenience; saving still works.
      }
    }, 200);
  });
})();

// The search fields' counters ("12/70"), updated as the owner types.
(function () {
  for (const field of document.querySelectorAll("[data-counter]")) {
    const counter = document.getElementById(field.dataset.counter);
    if (!counter) continue;
    const max = Number(counter.dataset.max);
    const label = counter.querySelector(".visually-hidden");
    const update = () => {
      // Characters, as the server counts them (not UTF-16 units).
      const used = Array.from(field.value).length;
      counter.textContent = "";
      if (label) counter.append(label);
      counter.append(`${used}/${max}`);
      counter.classList.toggle("over", used > max);
    };
    field.addEventListener("input", update);
  }
})();

// The search-result preview: the search title or the page's own title (the
// name and the shop's), the page's
// address, and the search description or the description's summary.
(function () {
  const serp = document.getElementById("serp");
  if (!serp) return;
  const value = (id) => {
    const el = document.getElementById(id);
    return el ? el.value.trim() : "";
  };
  const title = document.getElementById("serp-title");
  const url = document.getElementById("serp-url");
  const description = document.getElementById("serp-description");
  const preview = document.getElementById("preview");
  const slugOf = (text) =>
    text
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "");
  // At most 160 characters, cut at a word, as the storefront's summary is.
  const cut = (text, max) => {
    const chars = Array.from(text.replace(/\s+/g, " ").trim());
    if (chars.length <= max) return chars.join("");
    const head = chars.slice(0, max - 1).join("");
    const space = head.lastIndexOf(" ");
    return (space > 0 ? head.slice(0, space) : head) + "…";
  };
  let summary = serp.dataset.summary || "";
  const update = () => {
    title.textContent = value("seo_title") || value("name") + (serp.dataset.titleSuffix || "");
    const slug = value("slug") || slugOf(value("name"));
    url.textContent = `${serp.dataset.baseUrl || ""}/products/${slug ? slug + "/" : ""}`;
    description.textContent = value("seo_description") || summary;
  };
  for (const id of ["seo_title", "seo_description", "name", "slug"]) {
    const el = document.getElementById(id);
    if (el) el.addEventListener("input", update);
  }
  // The description's summary follows the Markdown preview, which the
  // server renders: its first paragraph's text.
  if (preview) {
    new MutationObserver(() => {
      const first = Array.from(preview.querySelectorAll("p")).find((p) => p.textContent.trim());
      summary = first ? cut(first.textContent, 160) : "";
      update();
    }).observe(preview, { childList: true, subtree: true });
  }
})();
