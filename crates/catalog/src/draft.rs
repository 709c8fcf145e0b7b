//! **Product validation, once.** Every writer and every source puts what it
//! has into a [`Draft`] and calls [`Draft::validate`]: the content folder's
//! parser, the PostgreSQL source, the JSON API and the admin (its form and
//! its CSV import). Each caller only says where a problem is (a file and
//! line, a `product_id`, a JSON field, a CSV line); what is valid is decided
//! here and in [`crate::types`].

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::records::Fields;
use crate::types::{
    BuyUrl, CategoryName, Gtin, Image, ImageUrl, Invalid, Mpn, Price, ProductId, ProductName, Seo,
    Slug, Status, StockQuantity, parse_optional_line,
};
use crate::{Merchandising, Product, check_description};

/// A price as the writer has it: decimal text from a person, or the
/// database's exact `numeric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount<'a> {
    Text(&'a str),
    Exact(Decimal),
}

/// A product's editable fields as given, before any rule is checked. `None`
/// is a field the writer did not give (`slug`: made from the name).
#[derive(Debug, Clone, Default)]
pub struct Draft<'a> {
    pub slug: Option<&'a str>,
    pub name: Option<&'a str>,
    pub description: &'a str,
    pub price: Option<Amount<'a>>,
    /// The main image alone, as older writers and the seed give it: a list
    /// of one image without alt text, unless `images` is given too, whose
    /// first image it must then name.
    pub image_url: Option<&'a str>,
    /// Every image, in order, as (url, alt text).
    pub images: Option<Vec<(&'a str, &'a str)>>,
    pub category: Option<&'a str>,
    pub stock_quantity: Option<i64>,
    /// `draft`, `active` or `archived`; `active` when not given.
    pub status: Option<&'a str>,
    /// The price before a sale; must be above `price`. Empty text is none.
    pub compare_at_price: Option<Amount<'a>>,
    /// The optional text fields: empty (or only spaces) is none.
    pub seo_title: Option<&'a str>,
    pub seo_description: Option<&'a str>,
    pub gtin: Option<&'a str>,
    pub mpn: Option<&'a str>,
    pub buy_url: Option<&'a str>,
}

/// `Some` text that is not blank.
fn given(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The column's name: `name`, `slug`, `price`, …
    pub field: &'static str,
    pub invalid: Invalid,
}

impl<'a> Draft<'a> {
    /// Checks every field by the catalog's rules and reports every problem
    /// at once, in column order.
    pub fn validate(&self) -> Result<Fields, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let mut check = Checker(&mut problems);
        let name = check.field(
            "name",
            required(self.name, ProductName::EXPECTED).and_then(ProductName::parse),
        );
        let slug = match (self.slug, self.name) {
            (Some(slug), _) => check.field("slug", Slug::parse(slug)),
            // A slug made from a bad name is not a second problem.
            (None, Some(text)) if name.is_some() => check.field("slug", Slug::from_text(text)),
            (None, _) => None,
        };
        let description = check.field("description", check_description(self.description));
        let price = check.field(
            "price",
            match self.price {
                Some(Amount::Text(text)) => Price::parse(text),
                Some(Amount::Exact(amount)) => Price::from_decimal(amount),
                None => Err(missing(Price::EXPECTED)),
            },
        );
        let images = match (&self.images, self.image_url) {
            (Some(list), main) => check
                .field("images", Image::parse_list(list.iter().copied()))
                .and_then(|images| {
                    let first = images.first().map(|i| i.url.as_str());
                    match main {
                        Some(url) if Some(url) != first => {
                            check.field("image_url", Err(not_first(url, first)))
                        }
                        _ => Some(images),
                    }
                }),
            (None, Some(url)) => check.field("image_url", ImageUrl::parse(url)).map(|url| {
                vec![Image {
                    url,
                    alt: String::new(),
                }]
            }),
            (None, None) => Some(Vec::new()),
        };
        let category = check.field(
            "category",
            required(self.category, CategoryName::EXPECTED).and_then(CategoryName::parse),
        );
        let stock_quantity = check.field(
            "stock_quantity",
            self.stock_quantity
                .ok_or_else(|| missing(StockQuantity::EXPECTED))
                .and_then(StockQuantity::new),
        );
        let status = check.field(
            "status",
            given(self.status).map_or(Ok(Status::Active), Status::parse),
        );
        let compare_at_price = check.field(
            "compare_at_price",
            match self.compare_at_price {
                None => Ok(None),
                Some(Amount::Text(text)) if text.trim().is_empty() => Ok(None),
                Some(Amount::Text(text)) => Price::parse(text).map(Some),
                Some(Amount::Exact(amount)) => Price::from_decimal(amount).map(Some),
            }
            .and_then(|was| match (was, price) {
                (Some(was), Some(now)) if was <= now => Err(Invalid {
                    problem: format!("{was} is not above the price {now}"),
                    expected: "a price before the sale, greater than price, or none",
                }),
                _ => Ok(was),
            }),
        );
        let seo_title = check.field(
            "seo_title",
            parse_optional_line(
                self.seo_title.unwrap_or(""),
                Seo::MAX_TITLE,
                Seo::TITLE_EXPECTED,
            ),
        );
        // A description typed over several lines (a textarea) is one line
        // in a search result.
        let one_line = self
            .seo_description
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let seo_description = check.field(
            "seo_description",
            parse_optional_line(&one_line, Seo::MAX_DESCRIPTION, Seo::DESCRIPTION_EXPECTED),
        );
        let gtin = check.field("gtin", given(self.gtin).map(Gtin::parse).transpose());
        let mpn = check.field(
            "mpn",
            parse_optional_line(self.mpn.unwrap_or(""), Mpn::MAX_LEN, Mpn::EXPECTED),
        );
        let buy_url = check.field(
            "buy_url",
            given(self.buy_url).map(BuyUrl::parse).transpose(),
        );
        let merchandising = match (
            status,
            compare_at_price,
            seo_title,
            seo_description,
            gtin,
            mpn,
            buy_url,
        ) {
            (
                Some(status),
                Some(compare_at_price),
                Some(seo_title),
                Some(seo_description),
                Some(gtin),
                Some(mpn),
                Some(buy_url),
            ) => Some(Merchandising {
                status,
                compare_at_price,
                seo_title,
                seo_description,
                gtin,
                mpn,
                buy_url,
            }),
            _ => None,
        };
        match (
            name,
            slug,
            description,
            price,
            images,
            category,
            stock_quantity,
            merchandising,
        ) {
            (
                Some(name),
                Some(slug),
                Some(()),
                Some(price),
                Some(images),
                Some(category),
                Some(stock_quantity),
                Some(merchandising),
            ) if problems.is_empty() => Ok(Fields {
                slug,
                name,
                description: self.description.to_owned(),
                price,
                images,
                category,
                stock_quantity,
                merchandising,
            }),
            _ => Err(problems),
        }
    }
}

impl Fields {
    /// The product these fields make, with the identity and times its store
    /// gave it.
    pub fn into_product(
        self,
        id: ProductId,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Product {
        Product {
            id,
            slug: self.slug,
            name: self.name,
            description: self.description,
            price: self.price,
            images: self.images,
            category: self.category,
            stock_quantity: self.stock_quantity,
            merchandising: self.merchandising,
            created_at,
            updated_at,
        }
    }
}

/// Collects each field's problem and hands on the good values.
struct Checker<'p>(&'p mut Vec<FieldProblem>);

impl Checker<'_> {
    fn field<T>(&mut self, field: &'static str, result: Result<T, Invalid>) -> Option<T> {
        result
            .map_err(|invalid| self.0.push(FieldProblem { field, invalid }))
            .ok()
    }
}

/// `image_url` given beside `images`, naming another image than the first.
fn not_first(url: &str, first: Option<&str>) -> Invalid {
    Invalid {
        problem: match first {
            Some(first) => format!("is {url:?}, but the first image is {first:?}"),
            None => format!("is {url:?}, but the image list is empty"),
        },
        expected: "the first image's url, or no image_url beside images",
    }
}

fn missing(expected: &'static str) -> Invalid {
    Invalid {
        problem: "is missing".into(),
        expected,
    }
}

fn required<'t>(value: Option<&'t str>, expected: &'static str) -> Result<&'t str, Invalid> {
    value.ok_or_else(|| missing(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Draft<'static> {
        Draft {
            slug: None,
            name: Some("Walnut Desk Tray"),
            description: "Oiled **walnut**.",
            price: Some(Amount::Text("49.9")),
            image_url: Some("/images/tray.webp"),
            images: None,
            category: Some("Home Office"),
            stock_quantity: Some(12),
            ..Draft::default()
        }
    }

    fn fields_of(problems: &[FieldProblem]) -> Vec<&'static str> {
        problems.iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_good_draft_is_valid_and_makes_its_slug() {
        let fields = good().validate().unwrap();
        assert_eq!(fields.slug.as_str(), "walnut-desk-tray");
        assert_eq!(fields.price.to_string(), "49.90");
        let exact = Draft {
            price: Some(Amount::Exact(Decimal::new(4990, 2))),
            ..good()
        };
        assert_eq!(exact.validate().unwrap().price, fields.price);
    }

    #[test]
    fn every_problem_is_reported_in_column_order() {
        let bad = Draft {
            slug: Some("Not A Slug"),
            name: Some(""),
            description: "a\0b",
            price: Some(Amount::Text("1.999")),
            image_url: Some("javascript:alert(1)"),
            images: None,
            category: None,
            stock_quantity: Some(-1),
            status: Some("live"),
            compare_at_price: Some(Amount::Text("1.00")),
            seo_title: Some(&"x".repeat(71)),
            seo_description: Some(&"y".repeat(161)),
            gtin: Some("4006381333932"),
            mpn: Some("a\u{7}b"),
            buy_url: Some("http://pay.example.com/x"),
        };
        let problems = bad.validate().unwrap_err();
        assert_eq!(
            fields_of(&problems),
            [
                "name",
                "slug",
                "description",
                "price",
                "image_url",
                "category",
                "stock_quantity",
                "status",
                "seo_title",
                "seo_description",
                "gtin",
                "mpn",
                "buy_url"
            ]
        );
        assert_eq!(problems[5].invalid.problem, "is missing");
    }

    #[test]
    fn a_bad_name_does_not_also_blame_the_slug_made_from_it() {
        let bad = Draft {
            name: Some("   "),
            ..good()
        };
        let problems = bad.validate().unwrap_err();
        assert!(
            fields_of(&problems).iter().all(|f| *f != "slug"),
            "{problems:?}"
        );
    }

    #[test]
    fn images_come_as_a_list_or_as_the_main_image_alone() {
        let one = good().validate().unwrap();
        assert_eq!(one.images.len(), 1);
        assert_eq!(one.images[0].url.as_str(), "/images/tray.webp");
        let list = Draft {
            image_url: None,
            images: Some(vec![("/images/a.jpg", "Top"), ("/images/b.jpg", "")]),
            ..good()
        };
        assert_eq!(
            list.validate().unwrap().images[1].url.as_str(),
            "/images/b.jpg"
        );
        let agreeing = Draft {
            image_url: Some("/images/a.jpg"),
            ..list.clone()
        };
        assert!(agreeing.validate().is_ok());
        let disagreeing = Draft {
            image_url: Some("/images/b.jpg"),
            ..list.clone()
        };
        let problems = disagreeing.validate().unwrap_err();
        assert_eq!(fields_of(&problems), ["image_url"]);
        let bad = Draft {
            images: Some(vec![("/images/a.jpg", ""), ("javascript:x", "")]),
            ..list
        };
        let problems = bad.validate().unwrap_err();
        assert_eq!(fields_of(&problems), ["images"]);
        assert!(problems[0].invalid.problem.starts_with("image 2:"));
    }

    #[test]
    fn merchandising_fields_are_optional_and_checked() {
        let plain = good().validate().unwrap();
        assert_eq!(plain.merchandising, Merchandising::default());
        let blank = Draft {
            status: Some(""),
            compare_at_price: Some(Amount::Text(" ")),
            seo_title: Some("  "),
            gtin: Some(""),
            buy_url: Some(""),
            ..good()
        };
        assert_eq!(
            blank.validate().unwrap().merchandising,
            Merchandising::default()
        );
        let full = Draft {
            status: Some("draft"),
            compare_at_price: Some(Amount::Text("59.90")),
            seo_title: Some(" Walnut desk tray, hand oiled "),
            gtin: Some("4006381333931"),
            buy_url: Some("https://buy.example.com/tray"),
            ..good()
        }
        .validate()
        .unwrap()
        .merchandising;
        assert_eq!(full.status, Status::Draft);
        assert_eq!(full.compare_at_price.unwrap().to_string(), "59.90");
        assert_eq!(
            full.seo_title.as_deref(),
            Some("Walnut desk tray, hand oiled")
        );
        let typed = Draft {
            seo_description: Some("Oiled walnut,\r\n  hand finished."),
            ..good()
        };
        assert_eq!(
            typed
                .validate()
                .unwrap()
                .merchandising
                .seo_description
                .as_deref(),
            Some("Oiled walnut, hand finished.")
        );
        for was in ["49.90", "10"] {
            let problems = Draft {
                compare_at_price: Some(Amount::Text(was)),
                ..good()
            }
            .validate()
            .unwrap_err();
            assert_eq!(fields_of(&problems), ["compare_at_price"]);
            assert!(
                problems[0]
                    .invalid
                    .problem
                    .contains("is not above the price 49.90")
            );
        }
        let long = Draft {
            seo_title: Some(&"é".repeat(70)),
            seo_description: Some(&"é".repeat(160)),
            ..good()
        };
        assert!(
            long.validate().is_ok(),
            "limits count characters, not bytes"
        );
    }

    #[test]
    fn missing_fields_say_so() {
        let problems = Draft::default().validate().unwrap_err();
        assert_eq!(
            fields_of(&problems),
            ["name", "price", "category", "stock_quantity"]
        );
    }
}
