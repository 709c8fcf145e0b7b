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
