//! Formats a price in the shop's currency and locale, from the exact decimal.

use catalog::{CurrencyCode, Price};

/// How a locale writes an amount.
struct NumberStyle {
    group: &'static str,
    decimal: char,
    /// `true`: `1.234,50 €`; `false`: `€1,234.50`.
    symbol_after: bool,
    /// Put a no-break space between a leading symbol and the number.
    space_after_prefix: bool,
}

fn number_style(locale: &str) -> NumberStyle {
    let lang = locale
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let region = locale
        .split(['-', '_'])
        .nth(1)
        .unwrap_or("")
        .to_ascii_uppercase();
    match lang.as_str() {
        "de" if region == "CH" => NumberStyle {
            group: "’",
            decimal: '.',
            symbol_after: false,
            space_after_prefix: true,
        },
        "de" | "es" | "it" | "pt" | "da" | "el" | "tr" | "id" => NumberStyle {
            group: ".",
            decimal: ',',
            symbol_after: true,
            space_after_prefix: false,
        },
        "nl" => NumberStyle {
            group: ".",
            decimal: ',',
            symbol_after: false,
            space_after_prefix: true,
        },
        "fr" | "sv" | "nb" | "no" | "fi" | "cs" | "pl" | "sk" | "ru" | "uk" => NumberStyle {
            group: "\u{202f}",
            decimal: ',',
            symbol_after: true,
            space_after_prefix: false,
        },
        _ => NumberStyle {
            group: ",",
            decimal: '.',
            symbol_after: false,
            space_after_prefix: false,
        },
    }
}

/// The symbol, and the number of minor digits the currency normally shows.
fn currency_symbol(code: &str, locale: &str) -> (String, u32) {
    let region = locale
        .split(['-', '_'])
        .nth(1)
        .unwrap_or("")
        .to_ascii_uppercase();
    match code {
        "EUR" => ("€".into(), 2),
        "GBP" => ("£".into(), 2),
        "USD" if region.is_empty() || region == "US" => ("$".into(), 2),
        "USD" => ("US$".into(), 2),
        "JPY" => ("¥".into(), 0),
        "KRW" => ("₩".into(), 0),
        "INR" => ("₹".into(), 2),
        "SEK" | "NOK" | "DKK" => ("kr".into(), 2),
        other => (other.to_owned(), 2),
    }
}

/// `€1,234.50` (en-IE), `1.234,50 €` (de-DE), `1 234,50 €` (fr-FR), `¥1,200` (ja-JP).
pub fn format_price(price: Price, currency: &CurrencyCode, locale: &str) -> String {
    let style = number_style(locale);
    let (symbol, minor) = currency_symbol(currency.as_str(), locale);
    let text = price.to_string(); // always "digits.dd"
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3 * 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push_str(style.group);
        }
        grouped.push(digit);
    }
    // Currencies without minor units drop ".00", but never hide real cents.
    if minor > 0 || cents != "00" {
        grouped.push(style.decimal);
        grouped.push_str(cents);
    }
    let word_symbol = symbol.chars().all(|c| c.is_ascii_alphabetic());
    if style.symbol_after {
        format!("{grouped}\u{a0}{symbol}")
    } else if style.space_after_prefix || word_symbol {
        format!("{symbol}\u{a0}{grouped}")
    } else {
        format!("{symbol}{grouped}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(price: &str, currency: &str, locale: &str) -> String {
        format_price(
            Price::parse(price).unwrap(),
            &CurrencyCode::parse(currency).unwrap(),
            locale,
        )
    }

    #[test]
    fn english_locales() {
        assert_eq!(fmt("49.9", "EUR", "en-IE"), "€49.90");
        assert_eq!(fmt("1234.5", "USD", "en-US"), "$1,234.50");
        assert_eq!(fmt("99999999.99", "GBP", "en-GB"), "£99,999,999.99");
        assert_eq!(fmt("0", "EUR", "en"), "€0.00");
        assert_eq!(fmt("100", "USD", "en-CA"), "US$100.00");
        assert_eq!(fmt("12.00", "CHF", "en-US"), "CHF\u{a0}12.00");
    }

    #[test]
    fn continental_locales() {
        assert_eq!(fmt("1234.5", "EUR", "de-DE"), "1.234,50\u{a0}€");
        assert_eq!(fmt("1234.5", "EUR", "fr-FR"), "1\u{202f}234,50\u{a0}€");
        assert_eq!(fmt("1234.5", "EUR", "nl-NL"), "€\u{a0}1.234,50");
        assert_eq!(fmt("999", "SEK", "sv-SE"), "999,00\u{a0}kr");
    }

    #[test]
    fn currencies_without_minor_units() {
        assert_eq!(fmt("1200", "JPY", "ja-JP"), "¥1,200");
        assert_eq!(fmt("1200.50", "JPY", "ja-JP"), "¥1,200.50");
    }

    #[test]
    fn grouping_edges() {
        assert_eq!(fmt("1", "EUR", "en-IE"), "€1.00");
        assert_eq!(fmt("999", "EUR", "en-IE"), "€999.00");
        assert_eq!(fmt("1000", "EUR", "en-IE"), "€1,000.00");
        assert_eq!(fmt("100000", "EUR", "en-IE"), "€100,000.00");
        assert_eq!(fmt("0.05", "EUR", "en-IE"), "€0.05");
    }
}
