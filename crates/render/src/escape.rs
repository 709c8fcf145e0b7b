//! Escaping text for HTML and XML: the one place that does it outside Tera's
//! own autoescaping.

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut copied = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[copied..i]);
        out.push_str(escape);
        copied = i + 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// Escapes text for XML element content and attribute values, and drops
/// the characters XML 1.0 cannot carry at all (control characters other
/// than tab, newline and carriage return; U+FFFE and U+FFFF).
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() && u32::from(c) < 0x20 => {}
            '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_html_needs() {
        assert_eq!(
            escape_html("a&b<c>d\"e'f"),
            "a&amp;b&lt;c&gt;d&quot;e&#39;f"
        );
        assert_eq!(escape_html("Café — ok"), "Café — ok");
        assert_eq!(escape_html(""), "");
    }

    #[test]
    fn escapes_what_xml_needs_and_drops_what_it_cannot_carry() {
        assert_eq!(
            xml_escape("a&b<c>d\"e'f"),
            "a&amp;b&lt;c&gt;d&quot;e&apos;f"
        );
        assert_eq!(xml_escape("bell\u{7}\ttab\u{ffff}é"), "bell\ttabé");
        assert_eq!(xml_escape("]]>"), "]]&gt;");
    }
}
