//! An XSS corpus: hostile names, categories, descriptions and image URLs must
//! never become script, an event handler or a `javascript:` URL in any output.

use render::site::Site;

use crate::common::*;

const PAYLOADS: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\"><script>alert(1)</script>",
    "'><svg onload=alert(1)>",
    "</script><script>alert(1)</script>",
    "javascript:alert(1)",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<body onload=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "{{ 7*7 }} {% raw %}",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<details open ontoggle=alert(1)>",
    "<!--<img src=\"--><img src=x onerror=alert(1)//\">",
    "<object data=\"javascript:alert(1)\"></object>",
    "<form action=\"javascript:alert(1)\"><button>x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "![x](javascript:alert(1))",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "\u{2028}\u{2029}</script><!--",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<base href=\"javascript:alert(1)//\">",
];

/// Decodes the few entities an attacker could use to hide a scheme.
fn decode(value: &str) -> String {
    let mut out = value.to_owned();
    for (from, to) in [
        ("&#106;", "j"),
        ("&#x6a;", "j"),
        ("&colon;", ":"),
        ("&#58;", ":"),
        ("&amp;", "&"),
        ("&#x2F;", "/"),
        ("&#39;", "'"),
        ("&quot;", "\""),
    ] {
        out = out.replace(from, to);
    }
    out.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// A tag and its attributes (name, value).
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
    end: usize,
}

fn parse_tag(html: &str, start: usize) -> Option<Tag> {
    let bytes = html.as_bytes();
    let mut i = start + 1;
    if i >= bytes.len() || !bytes[i].is_ascii_alphabetic() {
        return None;
    }
    let name_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-') {
        i += 1;
    }
    let name = html[name_start..i].to_ascii_lowercase();
    let mut attrs = Vec::new();
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return Some(Tag {
                name,
                attrs,
                end: i,
            });
        }
        if bytes[i] == b'>' {
            return Some(Tag {
                name,
                attrs,
                end: i + 1,
            });
        }
        let a = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !b"=>/".contains(&bytes[i]) {
            i += 1;
        }
        let attr = html[a..i].to_ascii_lowercase();
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                let v = i + 1;
                i = v;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                value = html[v..i.min(bytes.len())].to_owned();
                i += 1;
            } else {
                let v = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                value = html[v..i].to_owned();
            }
        }
        if attr.is_empty() {
            i += 1;
        } else {
            attrs.push((attr, value));
        }
    }
}

const URL_ATTRS: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "data",
    "poster",
    "background",
    "xlink:href",
    "srcset",
    "content",
];

/// Every problem in one HTML document.
fn problems(key: &str, html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        let start = at + offset;
        let Some(tag) = parse_tag(html, start) else {
            at = start + 1;
            continue;
        };
        for (name, value) in &tag.attrs {
            if name.starts_with("on") {
                found.push(format!(
                    "{key}: <{} {name}=…> is an event handler",
                    tag.name
                ));
            }
            let v = decode(value);
            let is_url = URL_ATTRS.contains(&name.as_str())
                && (name != "content" || tag.attrs.iter().any(|(n, _)| n == "http-equiv"));
            if is_url
                && (v.contains("javascript:")
                    || v.contains("vbscript:")
                    || v.starts_with("data:text/html"))
            {
                found.push(format!(
                    "{key}: <{} {name}={value:?}> is a script URL",
                    tag.name
                ));
            }
        }
        if ["iframe", "object", "embed", "base", "form"].contains(&tag.name.as_str())
            && !(tag.name == "form"
                && tag
                    .attrs
                    .iter()
                    .any(|(n, v)| n == "action" && v == "/search/"))
        {
            found.push(format!("{key}: <{}> must not appear", tag.name));
        }
        if tag.name == "meta" && tag.attrs.iter().any(|(n, _)| n == "http-equiv") {
            found.push(format!("{key}: <meta http-equiv> must not appear"));
        }
        if tag.name == "script" {
            let close = html[tag.end..]
                .find("</script")
                .map_or(html.len(), |i| tag.end + i);
            let body = &html[tag.end..close];
            let attr = |n: &str| {
                tag.attrs
                    .iter()
                    .find(|(a, _)| a == n)
                    .map(|(_, v)| v.as_str())
            };
            match (attr("type"), attr("src")) {
                (Some("application/ld+json"), None) => {
                    if body.contains('<') {
                        found.push(format!("{key}: JSON-LD contains '<'"));
                    }
                    if serde_json::from_str::<serde_json::Value>(body).is_err() {
                        found.push(format!("{key}: JSON-LD does not parse"));
                    }
                }
                (None, Some(src)) if src.starts_with("/assets/") && body.is_empty() => {}
                _ => found.push(format!("{key}: unexpected <script {:?}>", tag.attrs)),
            }
            at = close + 1;
            continue;
        }
        at = tag.end.max(start + 1);
    }
    found
}

fn scan(site: &Site) -> Vec<String> {
    let mut found = Vec::new();
    for (key, page) in site.iter() {
        if key.ends_with(".html") {
            found.extend(problems(
                key,
                std::str::from_utf8(&page.body.read().unwrap()).unwrap(),
            ));
        }
        if key == "products.json" {
            serde_json::from_slice::<serde_json::Value>(&page.body.read().unwrap())
                .unwrap_or_else(|e| panic!("products.json: {e}"));
        }
        if key.ends_with(".xml") {
            let bytes = page.body.read().unwrap();
            let xml = std::str::from_utf8(&bytes).unwrap();
            assert!(!xml.contains("<script"), "{key}");
        }
    }
    found
}

#[test]
fn the_scanner_catches_what_it_must() {
    assert!(!problems("t", "<a href=\"javascript:alert(1)\">x</a>").is_empty());
    assert!(!problems("t", "<img src=x onerror=alert(1)>").is_empty());
    assert!(!problems("t", "<script>alert(1)</script>").is_empty());
    assert!(!problems("t", "<a href=\"&#106;avascript:x\">").is_empty());
    assert!(
        problems(
            "t",
            "<p>&lt;script&gt;alert(1)&lt;/script&gt; onerror=x javascript:alert(1)</p>"
        )
        .is_empty()
    );
}

#[test]
fn hostile_text_in_every_field_stays_text() {
    let mut products = Vec::new();
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let id = i as i64 + 1;
        let mut product = p(id, &format!("Item {id}"), "Kitchen");
        product.name = format!("{payload} {id}");
        product.description = format!("{payload}\n\nMore: {payload}\n\n- {payload}");
        if i % 3 == 0 {
            product.category = format!("Cat {id} {payload}");
        }
        products.push(product);
    }
    assert!(PAYLOADS.len() >= 20);
    let shop = Shop::new(&products, 5);
    let built = shop.build().unwrap();
    let found = scan(&built.site);
    assert!(found.is_empty(), "{}", found.join("\n"));
    // The text is still there, escaped, so nothing was silently dropped from names.
    let page = text(&built.site, "products/item-1/index.html");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt; 1")
            || page.contains("&lt;script&gt;alert(1)&lt;/script&gt; 1"),
        "the name is shown escaped"
    );
}

#[test]
fn hostile_image_urls_are_refused_or_harmless() {
    for payload in PAYLOADS.iter().chain(&[
        "/images/x.svg\" onerror=\"alert(1)",
        "/images/x.svg' onerror='alert(1)",
        "https://cdn.example/x.png\" onload=\"alert(1)",
        "//evil.example/x.js",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "/images/<script>.svg",
    ]) {
        let mut product = p(1, "Item", "Kitchen");
        product.image_url = Some((*payload).to_owned());
        let shop = Shop::new(&[product], 5);
        match shop.build() {
            Ok(built) => {
                let found = scan(&built.site);
                assert!(
                    found.is_empty(),
                    "image_url {payload:?}:\n{}",
                    found.join("\n")
                );
            }
            Err(e) => assert!(
                e.to_string().contains("field `image_url`"),
                "{payload:?}: {e}"
            ),
        }
    }
}
