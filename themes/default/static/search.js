// Client-side search over /products.json: text, category, stock and sale filters,
// sorting by name or price. No framework. Results are built with DOM methods
// and textContent, never innerHTML, so catalog text cannot inject markup.
(() => {
  "use strict";
  const script = document.currentScript;
  const form = document.getElementById("search-form");
  const status = document.getElementById("search-status");
  const results = document.getElementById("search-results");
  const fields = {
    q: form.elements.q,
    category: form.elements.category,
    sort: form.elements.sort,
    inStock: form.elements.in_stock,
    onSale: form.elements.on_sale,
  };
  const MAX_SHOWN = 120;
  let catalog = [];

  // Prices are exact decimal strings like "49.90": compare them as integer cents.
  const cents = (price) => BigInt(price.replace(".", ""));
  // On sale: a compare-at price above the price, compared in cents.
  const onSale = (p) => p.compare_at_price != null && cents(p.compare_at_price) > p._cents;
  const fold = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

  function readUrl() {
    const params = new URLSearchParams(location.search);
    fields.q.value = params.get("q") || "";
    fields.category.value = params.get("category") || "";
    fields.sort.value = params.get("sort") || "relevance";
    if (!fields.sort.value) fields.sort.value = "relevance";
    fields.inStock.checked = params.get("in_stock") === "1";
    fields.onSale.checked = params.get("on_sale") === "1";
  }

  function writeUrl() {
    const params = new URLSearchParams();
    if (fields.q.value.trim()) params.set("q", fields.q.value.trim());
    if (fields.category.value) params.set("category", fields.category.value);
    if (fields.sort.value !== "relevance") params.set("sort", fields.sort.value);
    if (fields.inStock.checked) params.set("in_stock", "1");
    if (fields.onSale.checked) params.set("on_sale", "1");
    const query = params.toString();
    history.replaceState(null, "", query ? "?" + query : location.pathname);
  }

  function score(product, terms) {
    if (terms.length === 0) return 1;
    let total = 0;
    for (const term of terms) {
      if (product._name.includes(term)) total += 3;
      else if (product._category.includes(term)) total += 2;
      else if (product._summary.includes(term)) total += 1;
      else return 0;
    }
    return total;
  }

  function card(p) {
    const li = document.createElement("li");
    li.className = "card";
    const link = document.createElement("a");
    link.className = "card-link";
    link.href = p.url;
    const img = document.createElement("img");
    img.src = p.image_url;
    img.alt = "";
    img.width = 400;
    img.height = 400;
    img.loading = "lazy";
    const name = document.createElement("span");
    name.className = "card-name";
    name.textContent = p.name;
    link.append(img, name);
    const meta = document.createElement("p");
    meta.className = "card-meta";
    const price = document.createElement("span");
    price.className = "price";
    price.textContent = p.price_display;
    let shownPrice = price;
    if (p._onSale) {
      // As the cards the site renders: a badge, the price and the old one struck through.
      shownPrice = document.createElement("span");
      shownPrice.className = "card-price";
      const badge = document.createElement("span");
      badge.className = "badge badge-sale";
      badge.setAttribute("aria-hidden", "true");
      badge.textContent = "Sale";
      const now = document.createElement("span");
      now.className = "visually-hidden";
      now.textContent = "Sale price: ";
      price.className = "price price-now";
      const was = document.createElement("s");
      was.className = "price-was";
      const wasLabel = document.createElement("span");
      wasLabel.className = "visually-hidden";
      wasLabel.textContent = "was ";
      was.append(wasLabel, p.compare_at_price_display || p.compare_at_price);
      shownPrice.append(badge, " ", now, price, " ", was);
    }
    const stock = document.createElement("span");
    const level = !p.in_stock ? "out" : p.stock_quantity <= 5 ? "low" : "in";
    stock.className = "stock stock-" + level;
    stock.textContent = !p.in_stock ? "Out of stock" : level === "low" ? "Only " + p.stock_quantity + " left" : "In stock";
    meta.append(shownPrice, " ", stock);
    li.append(link, meta);
    return li;
  }

  function run() {
    const terms = fold(fields.q.value).split(/\s+/).filter(Boolean);
    const category = fields.category.value;
    const inStockOnly = fields.inStock.checked;
    const onSaleOnly = fields.onSale.checked;
    let hits = [];
    for (const p of catalog) {
      if (category && p.category_slug !== category) continue;
      if (inStockOnly && !p.in_stock) continue;
      if (onSaleOnly && !p._onSale) continue;
      const s = score(p, terms);
      if (s > 0) hits.push([s, p]);
    }
    const byName = (a, b) => a[1]._name.localeCompare(b[1]._name) || a[1].id - b[1].id;
    const byPrice = (a, b) => (a[1]._cents < b[1]._cents ? -1 : a[1]._cents > b[1]._cents ? 1 : 0);
    switch (fields.sort.value) {
      case "name": hits.sort(byName); break;
      case "price-asc": hits.sort((a, b) => byPrice(a, b) || byName(a, b)); break;
      case "price-desc": hits.sort((a, b) => byPrice(b, a) || byName(a, b)); break;
      default: hits.sort((a, b) => b[0] - a[0] || byName(a, b));
    }
    const shown = hits.slice(0, MAX_SHOWN);
    results.replaceChildren(...shown.map(([, p]) => card(p)));
    const n = hits.length;
    status.textContent =
      (n === 0 ? "No products match." : n === 1 ? "1 product found." : n + " products found.") +
      (n > MAX_SHOWN ? " Showing the first " + MAX_SHOWN + "; narrow the search to see more." : "");
    writeUrl();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  for (const field of Object.values(fields)) field.addEventListener("input", run);
  fields.category.addEventListener("change", run);
  fields.sort.addEventListener("change", run);
  fields.inStock.addEventListener("change", run);
  fields.onSale.addEventListener("change", run);

  readUrl();
  fetch(script.dataset.catalog, { credentials: "same-origin" })
    .then((res) => {
      if (!res.ok) throw new Error("HTTP " + res.status);
      return res.json();
    })
    .then((doc) => {
      catalog = doc.products.map((p) => ({
        ...p,
        _name: fold(p.name),
        _category: fold(p.category),
        _summary: fold(p.summary),
        _cents: cents(p.price),
      }));
      for (const p of catalog) p._onSale = onSale(p);
      run();
    })
    .catch(() => {
      status.textContent = "The catalog could not be loaded. Please reload the page or browse by category.";
    });
})();
