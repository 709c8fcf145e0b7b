//! Validated domain values. Each type can only be built through `parse`, so a
//! value that exists is a value that passed the shop's rules. This module is the
//! one place where those rules live: the content source, the database source and
//! the write API all go through it.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

/// Why a single value was rejected. The message says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}; expected {expected}")]
pub struct Invalid {
    pub problem: String,
    pub expected: &'static str,
}

impl Invalid {
    fn new(problem: impl Into<String>, expected: &'static str) -> Self {
        Self {
            problem: problem.into(),
            expected,
        }
    }
}

/// Largest price the database column `numeric(10,2)` can hold, plus one cent.
const PRICE_LIMIT: i64 = 100_000_000;

/// An exact, non-negative amount with at most two decimal places, below 100,000,000.
///
/// Money never passes through a float: a price is parsed from its decimal text
/// and stays a [`Decimal`] until it is formatted on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(Decimal);

impl Price {
    pub const EXPECTED: &'static str = "a decimal string with at most 2 decimal places, from \"0.00\" to \"99999999.99\", like \"49.90\"";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let trimmed = text.trim();
        let well_formed = !trimmed.is_empty()
            && trimmed
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
            && trimmed.bytes().filter(|&b| b == b'.').count() <= 1;
        let value = well_formed
            .then(|| Decimal::from_str_exact(trimmed).ok())
            .flatten()
            .ok_or_else(|| {
                Invalid::new(format!("{text:?} is not a decimal number"), Self::EXPECTED)
            })?;
        Self::from_decimal(value)
            .map_err(|e| Invalid::new(format!("{text:?} {}", e.problem), e.expected))
    }

    /// Checks a decimal read from elsewhere (the database) against the same rules.
    pub fn from_decimal(value: Decimal) -> Result<Self, Invalid> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(Invalid::new("is negative", Self::EXPECTED));
        }
        if value.normalize().scale() > 2 {
            return Err(Invalid::new(
                format!("has {} decimal places", value.normalize().scale()),
                Self::EXPECTED,
            ));
        }
        if value >= Decimal::from(PRICE_LIMIT) {
            return Err(Invalid::new("is too large", Self::EXPECTED));
        }
        let mut value = value.abs();
        value.rescale(2);
        Ok(Self(value))
    }

    pub fn amount(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Price {
    /// Always two decimal places: `"49.90"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl Serialize for Price {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A URL-safe identifier: lowercase ASCII letters and digits in groups joined by
/// single hyphens, at most 100 characters. Used for product and category URLs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 100;
    pub const EXPECTED: &'static str = "lowercase letters a-z, digits and single hyphens between them, at most 100 characters, like \"walnut-desk-organizer\"";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.is_empty() {
            return Err(Invalid::new("is empty", Self::EXPECTED));
        }
        if text.len() > Self::MAX_LEN {
            return Err(Invalid::new(
                format!("is {} characters long", text.len()),
                Self::EXPECTED,
            ));
        }
        let valid_chars = text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_chars || text.starts_with('-') || text.ends_with('-') || text.contains("--") {
            return Err(Invalid::new(
                format!("{text:?} is not a valid slug"),
                Self::EXPECTED,
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// Derives a slug from free text: `"Coffee & Tea"` → `coffee-tea`,
    /// `"Café Pour-Over"` → `cafe-pour-over`. Fails if nothing URL-safe is left.
    pub fn from_text(text: &str) -> Result<Self, Invalid> {
        let mut out = String::with_capacity(text.len());
        for c in text.chars().flat_map(fold_accent) {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        while out.ends_with('-') {
            out.pop();
        }
        if out.len() > Self::MAX_LEN {
            out.truncate(Self::MAX_LEN);
            while out.ends_with('-') {
                out.pop();
            }
        }
        Self::parse(&out).map_err(|_| {
            Invalid::new(
                format!("{text:?} has no letters or digits to make a slug from"),
                Self::EXPECTED,
            )
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Maps common Latin letters with diacritics to ASCII for slugs.
fn fold_accent(c: char) -> impl Iterator<Item = char> {
    let folded: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        '&' => "-",
        _ => "",
    };
    let single = folded.is_empty().then_some(c);
    folded.chars().chain(single)
}

/// Text that is shown as a heading: trimmed, not empty, no control characters,
/// at most `MAX` characters (Unicode scalar values, as PostgreSQL counts them).
fn parse_label(text: &str, max: usize, expected: &'static str) -> Result<String, Invalid> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new("is empty", expected));
    }
    let len = trimmed.chars().count();
    if len > max {
        return Err(Invalid::new(format!("is {len} characters long"), expected));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::new("contains a control character", expected));
    }
    Ok(trimmed.to_owned())
}

/// A product's display name: 1 to 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ProductName(String);

impl ProductName {
    pub const MAX_LEN: usize = 255;
    pub const EXPECTED: &'static str = "a name of 1 to 255 characters without control characters";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        parse_label(text, Self::MAX_LEN, Self::EXPECTED).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A category's display name: 1 to 100 characters. Its slug is derived from it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct CategoryName(String);

impl CategoryName {
    pub const MAX_LEN: usize = 100;
    pub const EXPECTED: &'static str =
        "a category name of 1 to 100 characters containing at least one letter or digit";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let name = parse_label(text, Self::MAX_LEN, Self::EXPECTED)?;
        Slug::from_text(&name).map_err(|e| Invalid::new(e.problem, Self::EXPECTED))?;
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn slug(&self) -> Slug {
        Slug::from_text(&self.0).expect("checked when parsed")
    }
}

/// Units in stock: 0 to 2,147,483,647 (the `int` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StockQuantity(i32);

impl StockQuantity {
    pub const EXPECTED: &'static str = "a whole number from 0 to 2147483647";

    pub fn new(value: i64) -> Result<Self, Invalid> {
        if value < 0 {
            return Err(Invalid::new(format!("{value} is negative"), Self::EXPECTED));
        }
        i32::try_from(value)
            .map(Self)
            .map_err(|_| Invalid::new(format!("{value} is too large"), Self::EXPECTED))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// A product id: a positive integer (the `bigint` identity column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ProductId(i64);

impl ProductId {
    pub const EXPECTED: &'static str = "a positive whole number";

    pub fn new(value: i64) -> Result<Self, Invalid> {
        if value <= 0 {
            return Err(Invalid::new(
                format!("{value} is not positive"),
                Self::EXPECTED,
            ));
        }
        Ok(Self(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The first character of a URL that would need quoting in an attribute
/// or could end it: spaces, controls, quotes, angle brackets, `\\`, `` ` ``.
fn needs_quoting(text: &str) -> Option<char> {
    text.chars().find(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`')
    })
}

/// Where a product image lives: a site-relative path (`/images/x.svg`) or an
/// `https://` URL, at most 512 characters, with no characters that need quoting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ImageUrl(String);

impl ImageUrl {
    pub const MAX_LEN: usize = 512;
    pub const EXPECTED: &'static str = "a site-relative path starting with \"/\" or an https:// URL, at most 512 characters, without spaces, quotes or angle brackets";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.len() > Self::MAX_LEN {
            return Err(Invalid::new(
                format!("is {} characters long", text.len()),
                Self::EXPECTED,
            ));
        }
        let relative = text.starts_with('/') && !text.starts_with("//");
        let https = text
            .strip_prefix("https://")
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        if !(relative || https) {
            return Err(Invalid::new(
                format!("{text:?} is neither site-relative nor https"),
                Self::EXPECTED,
            ));
        }
        if let Some(c) = needs_quoting(text) {
            return Err(Invalid::new(format!("contains {c:?}"), Self::EXPECTED));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One of a product's images: where it is, and what it shows (the alt text
/// a screen reader reads; empty means the owner has not written one yet, and
/// pages fall back to the product's name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Image {
    pub url: ImageUrl,
    pub alt: String,
}

impl Image {
    /// The most images a product may have.
    pub const MAX_PER_PRODUCT: usize = 20;
    pub const MAX_ALT_CHARS: usize = 300;
    pub const ALT_EXPECTED: &'static str =
        "alt text of at most 300 characters on one line, describing what the image shows";
    pub const LIST_EXPECTED: &'static str =
        "at most 20 images, each with its own url (image_url, when also given, names the first)";

    /// Checks one image's url and alt text (surrounding spaces are dropped).
    pub fn parse(url: &str, alt: &str) -> Result<Self, Invalid> {
        let url = ImageUrl::parse(url)?;
        let alt = alt.trim();
        let len = alt.chars().count();
        if len > Self::MAX_ALT_CHARS {
            return Err(Invalid::new(
                format!("its alt text is {len} characters long"),
                Self::ALT_EXPECTED,
            ));
        }
        if let Some(c) = alt.chars().find(|c| c.is_control()) {
            return Err(Invalid::new(
                format!("its alt text contains {c:?}"),
                Self::ALT_EXPECTED,
            ));
        }
        Ok(Self {
            url,
            alt: alt.to_owned(),
        })
    }

    /// Checks a whole list: each image, then the list (its length, no url
    /// twice). Problems name the image by its place, counting from 1.
    pub fn parse_list<'t>(
        list: impl IntoIterator<Item = (&'t str, &'t str)>,
    ) -> Result<Vec<Self>, Invalid> {
        let mut images: Vec<Self> = Vec::new();
        for (i, (url, alt)) in list.into_iter().enumerate() {
            let image = Self::parse(url, alt).map_err(|invalid| Invalid {
                problem: format!("image {}: {}", i + 1, invalid.problem),
                ..invalid
            })?;
            if let Some(first) = images.iter().position(|o| o.url == image.url) {
                return Err(Invalid::new(
                    format!(
                        "image {} repeats image {}'s url {:?}",
                        i + 1,
                        first + 1,
                        url
                    ),
                    Self::LIST_EXPECTED,
                ));
            }
            images.push(image);
        }
        if images.len() > Self::MAX_PER_PRODUCT {
            return Err(Invalid::new(
                format!("has {} images", images.len()),
                Self::LIST_EXPECTED,
            ));
        }
        Ok(images)
    }
}

/// An ISO 4217 currency code, three uppercase letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CurrencyCode(String);

impl CurrencyCode {
    pub const EXPECTED: &'static str = "an ISO 4217 code of three uppercase letters, like \"EUR\"";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(Invalid::new(
                format!("{text:?} is not a currency code"),
                Self::EXPECTED,
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a product is in its life: only `active` products reach the
/// storefront; a `draft` is being prepared, an `archived` one is kept but no
/// longer sold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    #[default]
    Active,
    Archived,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Draft, Status::Active, Status::Archived];
    pub const EXPECTED: &'static str = "one of \"draft\", \"active\" or \"archived\"";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        match text.trim() {
            "draft" => Ok(Self::Draft),
            "active" => Ok(Self::Active),
            "archived" => Ok(Self::Archived),
            other => Err(Invalid::new(
                format!("{other:?} is not a status"),
                Self::EXPECTED,
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Optional one-line text with a length limit (SEO fields, an MPN): trimmed,
/// empty means none, no control characters.
pub fn parse_optional_line(
    text: &str,
    max: usize,
    expected: &'static str,
) -> Result<Option<String>, Invalid> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    parse_label(trimmed, max, expected).map(Some)
}

/// Search-result text: `seo_title` at most 70 characters, `seo_description`
/// at most 160, the lengths search engines show.
pub struct Seo;

impl Seo {
    pub const MAX_TITLE: usize = 70;
    pub const MAX_DESCRIPTION: usize = 160;
    pub const TITLE_EXPECTED: &'static str =
        "a search title of at most 70 characters on one line, or none to use the product's name";
    pub const DESCRIPTION_EXPECTED: &'static str = "a search description of at most 160 characters on one line, or none to use a summary of the description";
}

/// A Global Trade Item Number: 8, 12, 13 or 14 digits, the last of which is
/// the check digit of the others (GS1's mod-10 rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Gtin(String);

impl Gtin {
    pub const EXPECTED: &'static str =
        "a GTIN (EAN, UPC or ISBN-13) of 8, 12, 13 or 14 digits ending in its check digit";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let digits = text.trim();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new(
                format!("{digits:?} contains a character other than a digit"),
                Self::EXPECTED,
            ));
        }
        if ![8, 12, 13, 14].contains(&digits.len()) {
            return Err(Invalid::new(
                format!("{digits:?} has {} digits", digits.len()),
                Self::EXPECTED,
            ));
        }
        let (body, check) = digits.split_at(digits.len() - 1);
        let expected = Self::check_digit(body);
        let given = check.as_bytes()[0] - b'0';
        if given != expected {
            return Err(Invalid::new(
                format!("{digits:?} ends in {given}, but its check digit is {expected}"),
                Self::EXPECTED,
            ));
        }
        Ok(Self(digits.to_owned()))
    }

    /// GS1's check digit: from the right, digits weighted 3, 1, 3, …
    pub fn check_digit(body: &str) -> u8 {
        let sum: u32 = body
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        ((10 - sum % 10) % 10) as u8
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A manufacturer part number: at most 70 characters on one line.
pub struct Mpn;

impl Mpn {
    pub const MAX_LEN: usize = 70;
    pub const EXPECTED: &'static str =
        "a manufacturer part number of at most 70 characters on one line";
}

/// Where a shopper pays for a product elsewhere (a payment link): an
/// `https://` URL of at most 2048 characters with nothing that needs quoting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct BuyUrl(String);

impl BuyUrl {
    pub const MAX_LEN: usize = 2048;
    pub const EXPECTED: &'static str = "an https:// URL such as a payment link, at most 2048 characters, without spaces, quotes or angle brackets";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let text = text.trim();
        if text.len() > Self::MAX_LEN {
            return Err(Invalid::new(
                format!("is {} characters long", text.len()),
                Self::EXPECTED,
            ));
        }
        let host_ok = text.strip_prefix("https://").is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !host.starts_with('.') && !host.contains('@')
        });
        if !host_ok {
            return Err(Invalid::new(
                format!("{text:?} is not an https:// URL"),
                Self::EXPECTED,
            ));
        }
        if let Some(c) = needs_quoting(text) {
            return Err(Invalid::new(format!("contains {c:?}"), Self::EXPECTED));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Price {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_accepts_exact_decimals_and_normalises_to_two_places() {
        assert_eq!(Price::parse("49.9").unwrap().to_string(), "49.90");
        assert_eq!(Price::parse("0").unwrap().to_string(), "0.00");
        assert_eq!(
            Price::parse("99999999.99").unwrap().to_string(),
            "99999999.99"
        );
        assert_eq!(Price::parse("12.500").unwrap().to_string(), "12.50");
    }

    #[test]
    fn price_rejects_bad_values_and_says_what_is_expected() {
        let e = Price::parse("1.999").unwrap_err();
        assert_eq!(e.problem, "\"1.999\" has 3 decimal places");
        assert!(e.to_string().contains("at most 2 decimal places"));
        assert_eq!(
            Price::parse("-1.00").unwrap_err().problem,
            "\"-1.00\" is negative"
        );
        assert_eq!(
            Price::parse("100000000").unwrap_err().problem,
            "\"100000000\" is too large"
        );
        for bad in ["", "abc", "1e3", "1,00", "NaN", "1.2.3", "0x10"] {
            assert!(Price::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn gtins_need_their_check_digit() {
        for good in [
            "4006381333931",
            "96385074",
            "036000291452",
            "10012345678902",
        ] {
            assert!(Gtin::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            Gtin::parse("4006381333932").unwrap_err().problem,
            "\"4006381333932\" ends in 2, but its check digit is 1"
        );
        assert!(Gtin::parse("400638133393").is_err());
        assert!(Gtin::parse("40063813339x1").is_err());
    }

    #[test]
    fn buy_urls_are_https_only() {
        assert!(BuyUrl::parse("https://buy.stripe.com/test_123").is_ok());
        for bad in [
            "http://pay.example.com",
            "javascript:alert(1)",
            "https://",
            "https://a b",
            "https://x\"y",
            "//pay.example.com",
            "https://user@evil.example",
        ] {
            assert!(BuyUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_read_and_print() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Ok(s));
        }
        assert_eq!(Status::default(), Status::Active);
        assert!(
            Status::parse("live")
                .unwrap_err()
                .to_string()
                .contains("draft")
        );
    }

    #[test]
    fn slug_rules() {
        assert!(Slug::parse("walnut-desk-organizer").is_ok());
        for bad in [
            "",
            "Walnut",
            "a--b",
            "-a",
            "a-",
            "a b",
            "a_b",
            "é",
            &"a".repeat(101),
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            Slug::from_text("Coffee & Tea").unwrap().as_str(),
            "coffee-tea"
        );
        assert_eq!(
            Slug::from_text("  Café Pour-Over Kettle ")
                .unwrap()
                .as_str(),
            "cafe-pour-over-kettle"
        );
        assert_eq!(
            Slug::from_text("Home/Office -- 2").unwrap().as_str(),
            "home-office-2"
        );
        assert!(Slug::from_text("!!!").is_err());
        assert!(Slug::from_text(&"ab ".repeat(80)).unwrap().as_str().len() <= 100);
    }

    #[test]
    fn names_are_limited_to_255_characters_counted_as_characters() {
        assert!(ProductName::parse(&"é".repeat(255)).is_ok());
        let e = ProductName::parse(&"x".repeat(256)).unwrap_err();
        assert_eq!(e.problem, "is 256 characters long");
        assert_eq!(ProductName::parse("   ").unwrap_err().problem, "is empty");
        assert!(ProductName::parse("a\u{7}b").is_err());
        assert_eq!(ProductName::parse("  Mug ").unwrap().as_str(), "Mug");
    }

    #[test]
    fn category_needs_something_to_slug() {
        assert_eq!(
            CategoryName::parse("Coffee & Tea").unwrap().slug().as_str(),
            "coffee-tea"
        );
        assert!(CategoryName::parse("&&").is_err());
    }

    #[test]
    fn stock_and_ids() {
        assert_eq!(
            StockQuantity::new(-1).unwrap_err().problem,
            "-1 is negative"
        );
        assert!(StockQuantity::new(i64::from(i32::MAX) + 1).is_err());
        assert!(ProductId::new(0).is_err());
    }

    #[test]
    fn image_urls_are_relative_or_https() {
        assert!(ImageUrl::parse("/images/a.svg").is_ok());
        assert!(ImageUrl::parse("https://cdn.example.com/a.webp").is_ok());
        for bad in [
            "javascript:alert(1)",
            "http://x/a.png",
            "//evil.example/a.png",
            "images/a.png",
            "/a\" onerror=\"x",
            "/a b.png",
            "https://",
            "data:image/png;base64,AAAA",
        ] {
            assert!(ImageUrl::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn image_lists_name_the_bad_image_by_its_place() {
        let good =
            Image::parse_list([("/images/a.jpg", " A mug "), ("/images/b.jpg", "")]).unwrap();
        assert_eq!(good[0].alt, "A mug");
        let bad = Image::parse_list([("/images/a.jpg", ""), ("javascript:x", "")]).unwrap_err();
        assert!(bad.problem.starts_with("image 2: "), "{bad:?}");
        let twice = Image::parse_list([("/images/a.jpg", ""), ("/images/a.jpg", "")]).unwrap_err();
        assert!(twice.problem.contains("repeats image 1"), "{twice:?}");
        let long = "x".repeat(301);
        assert!(Image::parse("/images/a.jpg", &long).is_err());
        assert!(Image::parse("/images/a.jpg", "two\nlines").is_err());
        let many: Vec<String> = (0..21).map(|i| format!("/images/{i}.jpg")).collect();
        assert!(Image::parse_list(many.iter().map(|u| (u.as_str(), ""))).is_err());
    }
}
