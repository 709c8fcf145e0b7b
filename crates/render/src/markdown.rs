//! Markdown → safe HTML. Every description goes through pulldown-cmark and then
//! the ammonia sanitizer, so no description can carry script, event handlers or
//! `javascript:` URLs into a page.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .rm_tags(["img"]);
    b
});

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Renders Markdown and sanitizes the result.
pub fn to_safe_html(markdown: &str) -> String {
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, options()));
    SANITIZER.clean(&raw).to_string()
}

/// The first paragraph as plain text, cut at a word boundary to at most `max`
/// characters, for listings and `<meta name="description">`.
pub fn summary(markdown: &str, max: usize) -> String {
    let mut text = String::new();
    let mut depth = 0usize;
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::Paragraph) => depth += 1,
            Event::End(TagEnd::Paragraph) => {
                if !text.trim().is_empty() {
                    break;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) | Event::Code(t) if depth > 0 => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak if depth > 0 => text.push(' '),
            _ => {}
        }
    }
    shorten(&text, max)
}

/// The whole description as plain text (no markup, no raw HTML; blocks
/// separated by a space), cut at a word boundary to at most `max`
/// characters, for feeds that want text.
pub fn plain_text(markdown: &str, max: usize) -> String {
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak | Event::Rule => text.push(' '),
            // Between blocks, not inside them: `**wal**nut` stays one word.
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::List(_)
                | TagEnd::BlockQuote(_)
                | TagEnd::CodeBlock
                | TagEnd::TableCell
                | TagEnd::TableRow
                | TagEnd::TableHead,
            ) => text.push(' '),
            _ => {}
        }
    }
    shorten(&text, max)
}

/// Collapses whitespace, then cuts at a word boundary to at most `max`
/// characters, ending in `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    if let Some(space) = cut.rfind(' ') {
        cut.truncate(space);
    }
    cut.trim_end_matches([',', ';', ':', '.', ' ']).to_owned() + "…"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown() {
        assert_eq!(
            to_safe_html("Hand-finished **walnut**."),
            "<p>Hand-finished <strong>walnut</strong>.</p>\n"
        );
        let list = to_safe_html("- one\n- *two*\n");
        assert!(
            list.contains("<ul>") && list.contains("<em>two</em>"),
            "{list}"
        );
        let link = to_safe_html("[care](https://example.com/care)");
        assert!(link.contains("href=\"https://example.com/care\""), "{link}");
        assert!(
            link.contains("rel=\"noopener noreferrer nofollow\""),
            "{link}"
        );
        assert!(to_safe_html("[x](/products/a/)").contains("href=\"/products/a/\""));
    }

    #[test]
    fn strips_script_and_handlers() {
        let out = to_safe_html(
            "<script>alert(1)</script><b onclick=\"x()\">hi</b>\n\n[a](javascript:alert(1))",
        );
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("onclick"), "{out}");
        assert!(!out.contains("javascript:"), "{out}");
        assert!(
            out.contains("<a rel=\"noopener noreferrer nofollow\">a</a>"),
            "{out}"
        );
    }

    #[test]
    fn summaries() {
        assert_eq!(
            summary("Hand-finished **walnut** tray.\n\nSecond.", 160),
            "Hand-finished walnut tray."
        );
        assert_eq!(summary("- a list\n\nThen text.", 160), "Then text.");
        assert_eq!(summary("one two three four", 10), "one two…");
        assert_eq!(summary("", 10), "");
    }

    #[test]
    fn plain_text_keeps_every_block_and_drops_markup() {
        let md = "A **walnut** tray.\n\n- one <b>x</b>\n- `two`\n\n<div>raw</div>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n";
        let text = plain_text(md, 5000);
        assert_eq!(text, "A walnut tray. one x two a b 1 2");
        assert!(!text.contains('<'), "{text}");
        assert_eq!(plain_text("**wal**nut", 10), "walnut");
        assert_eq!(plain_text("one two three four", 10), "one two…");
        let long = "word ".repeat(2000);
        let cut = plain_text(&long, 5000);
        assert!(
            cut.chars().count() <= 5000 && cut.ends_with("word…"),
            "{}",
            cut.len()
        );
    }
}
