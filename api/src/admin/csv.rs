//! The catalog as CSV, out and in.
//!
//! Export guards against formula injection: a cell that a spreadsheet would
//! run (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
//! leading apostrophe, which spreadsheets show as text; import takes that
//! apostrophe off again, so an export imports back unchanged.
//!
//! Import is checked as a whole before anything is written: every bad row is
//! reported with its line number, and a good file becomes a plan (create,
//! update, unchanged) that the store applies in one transaction. A row is
//! matched to a product by `product_id` when it has one, else by slug.
//!
//! `images` holds every image, one a line, as `url | alt text` (or the url
//! alone); the first is the main image, so `image_url` must name it. A file
//! without the column (an older export) sets `image_url` alone.
//!
//! The merchandising columns (`status`, `compare_at_price`, `seo_title`,
//! `seo_description`, `gtin`, `mpn`, `buy_url`) may be left out too, as an
//! export from before they existed does: a product the row updates keeps its
//! current value of each missing column, and a product it creates gets the
//! default (`active`, and none for the rest). A column that is there but
//! empty means none (`active` for `status`), as it does in the JSON API.

use std::collections::HashMap;

use catalog::records::{Fields, ImportPlan, Record};

use crate::products::{ProductImage, ProductInput, validate_with_status};

/// The columns, in order.
pub const HEADER: [&str; 16] = [
    "product_id",
    "slug",
    "name",
    "price",
    "category",
    "stock_quantity",
    "image_url",
    "images",
    "description",
    "status",
    "compare_at_price",
    "seo_title",
    "seo_description",
    "gtin",
    "mpn",
    "buy_url",
];

/// The merchandising columns: an update keeps the product's value of any
/// that the file lacks.
const MERCHANDISING: [&str; 7] = catalog::Merchandising::FIELDS;

/// Columns an import may leave out: `images` and the merchandising ones.
fn optional(column: &str) -> bool {
    column == "images" || MERCHANDISING.contains(&column)
}

/// The `images` cell: one image a line.
fn images_cell(r: &Record) -> String {
    r.images
        .iter()
        .map(|i| {
            if i.alt.is_empty() {
                i.url.clone()
            } else {
                format!("{} | {}", i.url, i.alt)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads the `images` cell back; `None` when it is empty.
fn parse_images_cell(cell: &str) -> Option<Vec<ProductImage>> {
    let images: Vec<ProductImage> = cell
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (url, alt) = line.split_once('|').unwrap_or((line, ""));
            ProductImage {
                url: url.trim().to_owned(),
                alt: alt.trim().to_owned(),
            }
        })
        .collect();
    (!images.is_empty()).then_some(images)
}

fn guarded(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

fn unguarded(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// Every product as CSV text, by id.
pub fn export(records: &[Record]) -> String {
    let mut out = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let _ = out.write_record(HEADER);
    for r in records {
        let row = [
            r.product_id.to_string(),
            guarded(&r.slug),
            guarded(&r.name),
            format!("{:.2}", r.price),
            guarded(r.category.as_deref().unwrap_or_default()),
            r.stock_quantity.to_string(),
            guarded(r.image_url().unwrap_or_default()),
            guarded(&images_cell(r)),
            guarded(&r.description),
        ]
        .into_iter()
        .chain(
            MERCHANDISING
                .iter()
                .map(|c| guarded(&r.merchandising_text(c).unwrap_or_default())),
        )
        .collect::<Vec<_>>();
        let _ = out.write_record(&row);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// What one row of an import does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Unchanged,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
        }
    }
}

/// A checked row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub action: Action,
    pub name: String,
    pub slug: String,
}

/// A checked import: what each row does, and the writes.
#[derive(Debug, Default)]
pub struct Preview {
    pub rows: Vec<Row>,
    pub plan: ImportPlan,
}

impl Preview {
    pub fn count(&self, action: Action) -> usize {
        self.rows.iter().filter(|r| r.action == action).count()
    }
}

/// A problem with one line (or the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    /// The column, when one is to blame.
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "Line {}: {field}: {}", self.line, self.message),
            None => write!(f, "Line {}: {}", self.line, self.message),
        }
    }
}

/// Checks a whole file against the current catalog.
pub fn check(text: &str, current: &[Record]) -> Result<Preview, Vec<LineError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Spreadsheets write CRLF; the csv crate's line numbers lag behind on it.
    let text = text.replace("\r\n", "\n");
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let file_error = |message: String| {
        vec![LineError {
            line: 1,
            field: None,
            message,
        }]
    };
    let header = reader
        .headers()
        .map_err(|e| file_error(format!("could not read the header: {e}")))?
        .clone();
    let columns: HashMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let missing: Vec<&str> = HEADER[1..]
        .iter()
        .filter(|c| !columns.contains_key(**c) && !optional(c))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(file_error(format!(
            "the header lacks {}; expected the columns {}",
            missing.join(", "),
            HEADER.join(",")
        )));
    }
    let by_id: HashMap<i64, &Record> = current.iter().map(|r| (r.product_id, r)).collect();
    let by_slug: HashMap<&str, &Record> = current.iter().map(|r| (r.slug.as_str(), r)).collect();
    let mut errors = Vec::new();
    let mut preview = Preview::default();
    let mut seen_slugs: HashMap<String, u64> = HashMap::new();
    let mut seen_ids: HashMap<i64, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                errors.push(LineError {
                    line,
                    field: None,
                    message: format!("is not valid CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let cell = |name: &str| {
            columns
                .get(name)
                .and_then(|i| record.get(*i))
                .map(|v| unguarded(v).to_owned())
                .unwrap_or_default()
        };
        let mut problem = |field: &str, message: String| {
            errors.push(LineError {
                line,
                field: Some(field.to_owned()),
                message,
            });
        };
        let id = match cell("product_id").trim() {
            "" => None,
            text => match text.parse::<i64>() {
                Ok(id) if by_id.contains_key(&id) => Some(id),
                Ok(id) => {
                    problem(
                        "product_id",
                        format!("no product has the id {id}; leave it empty to create one"),
                    );
                    continue;
                }
                Err(_) => {
                    problem("product_id", format!("{text:?} is not a whole number"));
                    continue;
                }
            },
        };
        let stock = match cell("stock_quantity").trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                problem(
                    "stock_quantity",
                    format!("{:?} is not a whole number", cell("stock_quantity")),
                );
                continue;
            }
        };
        let slug = cell("slug");
        let image_url = cell("image_url");
        // A merchandising column the file lacks: `None` here, and the
        // product's own value once the row is matched to one.
        let given = |name: &str| columns.contains_key(name).then(|| cell(name));
        let mut input = ProductInput {
            slug: (!slug.trim().is_empty()).then(|| slug.trim().to_owned()),
            name: cell("name"),
            description: cell("description"),
            price: cell("price").trim().to_owned(),
            image_url: (!image_url.trim().is_empty()).then(|| image_url.trim().to_owned()),
            images: parse_images_cell(&cell("images")),
            category: cell("category"),
            stock_quantity: stock,
            status: None,
            compare_at_price: given("compare_at_price"),
            seo_title: given("seo_title"),
            seo_description: given("seo_description"),
            gtin: given("gtin"),
            mpn: given("mpn"),
            buy_url: given("buy_url"),
        };
        let mut status = given("status");
        let mut fields = match validate_with_status(&input, status.as_deref()) {
            Ok(f) => f,
            Err(bad) => {
                for e in bad {
                    problem(&e.field, e.message);
                }
                continue;
            }
        };
        // A column the file lacks, or a cell past the end of a short row
        // (a tool that trims trailing empty cells), keeps the product's value.
        let lacking: Vec<&str> = MERCHANDISING
            .iter()
            .filter(|c| columns.get(**c).is_none_or(|i| *i >= record.len()))
            .copied()
            .collect();
        let matched = match id {
            Some(id) => by_id.get(&id).copied(),
            None => by_slug.get(fields.slug.as_str()).copied(),
        };
        if let Some(current) = matched.filter(|_| !lacking.is_empty()) {
            for column in &lacking {
                let value = current.merchandising_text(column);
                match input.text_field(column) {
                    Some(field) => *field = value,
                    None => status = value,
                }
            }
            fields = match validate_with_status(&input, status.as_deref()) {
                Ok(f) => f,
                Err(bad) => {
                    for e in bad {
                        problem(&e.field, e.message);
                    }
                    continue;
                }
            };
        }
        let slug = fields.slug.as_str().to_owned();
        if let Some(first) = seen_slugs.insert(slug.clone(), line) {
            problem("slug", format!("{slug:?} is also on line {first}"));
            continue;
        }
        let existing = match id {
            Some(id) => {
                if let Some(first) = seen_ids.insert(id, line) {
                    problem("product_id", format!("{id} is also on line {first}"));
                    continue;
                }
                by_id.get(&id).copied()
            }
            None => by_slug.get(slug.as_str()).copied(),
        };
        if let Some(other) = by_slug.get(slug.as_str())
            && existing.is_none_or(|e| e.product_id != other.product_id)
        {
            problem(
                "slug",
                format!(
                    "{slug:?} belongs to product {}, {:?}",
                    other.product_id, other.name
                ),
            );
            continue;
        }
        let action = match existing {
            None => {
                preview.plan.creates.push(fields.clone());
                Action::Create
            }
            Some(current) if same(current, &fields) => Action::Unchanged,
            Some(current) => {
                preview
                    .plan
                    .updates
                    .push((current.product_id, current.version, fields.clone()));
                Action::Update
            }
        };
        preview.rows.push(Row {
            line,
            action,
            name: fields.name.as_str().to_owned(),
            slug,
        });
    }
    if errors.is_empty() {
        Ok(preview)
    } else {
        Err(errors)
    }
}

/// Whether writing `f` would change nothing.
fn same(r: &Record, f: &Fields) -> bool {
    r.slug == f.slug.as_str()
        && r.name == f.name.as_str()
        && r.description == f.description
        && r.price == f.price.amount()
        && r.images.len() == f.images.len()
        && r.images
            .iter()
            .zip(&f.images)
            .all(|(r, f)| r.url == f.url.as_str() && r.alt == f.alt)
        && r.category.as_deref() == Some(f.category.as_str())
        && r.stock_quantity == f.stock_quantity.get()
        && same_merchandising(r, &f.merchandising)
}

fn same_merchandising(r: &Record, m: &catalog::Merchandising) -> bool {
    r.status == m.status
        && r.compare_at_price == m.compare_at_price.map(|c| c.amount())
        && r.seo_title == m.seo_title
        && r.seo_description == m.seo_description
        && r.gtin.as_deref() == m.gtin.as_ref().map(|g| g.as_str())
        && r.mpn == m.mpn
        && r.buy_url.as_deref() == m.buy_url.as_ref().map(|u| u.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn record(id: i64, slug: &str, name: &str, description: &str) -> Record {
        Record {
            product_id: id,
            slug: slug.into(),
            name: name.into(),
            description: description.into(),
            price: "12.50".parse().unwrap(),
            images: Vec::new(),
            category: Some("Kitchen".into()),
            stock_quantity: 3,
            status: catalog::Status::Active,
            compare_at_price: None,
            seo_title: None,
            seo_description: None,
            gtin: None,
            mpn: None,
            buy_url: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 7,
        }
    }

    #[test]
    fn formulas_are_exported_as_text_and_read_back_unchanged() {
        let evil = record(
            1,
            "evil",
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "- a list\n- item",
        );
        let text = export(std::slice::from_ref(&evil));
        assert!(
            text.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""),
            "{text}"
        );
        assert!(text.contains("\"'- a list"));
        let preview = check(&text, &[evil]).unwrap();
        assert_eq!(preview.rows[0].action, Action::Unchanged, "{preview:?}");
    }

    #[test]
    fn rows_are_matched_by_id_then_slug() {
        let current = [
            record(1, "tea-cup", "Tea Cup", ""),
            record(2, "jug", "Jug", ""),
        ];
        let text = "product_id,slug,name,price,category,stock_quantity,image_url,description\n\
                    1,tea-cup,Tea Cup,12.50,Kitchen,3,,\n\
                    ,jug,Jug,13.00,Kitchen,3,,\n\
                    ,,Bread Bin,20.00,Kitchen,1,,Oak.\n";
        let preview = check(text, &current).unwrap();
        let actions: Vec<_> = preview.rows.iter().map(|r| (r.line, r.action)).collect();
        assert_eq!(
            actions,
            [
                (2, Action::Unchanged),
                (3, Action::Update),
                (4, Action::Create)
            ]
        );
        assert_eq!(preview.plan.updates[0].0, 2);
        assert_eq!(preview.plan.updates[0].1, 7, "the version the preview saw");
        assert_eq!(preview.plan.creates[0].slug.as_str(), "bread-bin");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let text = "product_id,slug,name,price,category,stock_quantity,image_url,description\n\
                    ,,Good,1.00,Kitchen,1,,\n\
                    ,,Bad Price,abc,Kitchen,1,,\n\
                    \"\",\"\",\"Multi\nline\",1.00,Kitchen,x,,\n\
                    99,,Ghost,1.00,Kitchen,1,,\n\
                    ,,Good,2.00,Kitchen,1,,\n";
        let errors: Vec<String> = check(text, &[])
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("Line 3: price: "), "{errors:?}");
        assert!(
            errors[1].starts_with("Line 4: stock_quantity: "),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with("Line 6: product_id: no product has the id 99"),
            "{errors:?}"
        );
        assert_eq!(errors[3], "Line 7: slug: \"good\" is also on line 2");
    }

    #[test]
    fn line_numbers_hold_with_crlf() {
        let text = "product_id,slug,name,price,category,stock_quantity,image_url,description\r\n\
                    ,,Good,1.00,Kitchen,1,,\r\n\
                    ,,Bad,abc,Kitchen,1,,\r\n";
        let errors = check(text, &[]).unwrap_err();
        assert_eq!(errors[0].line, 3, "{errors:?}");
    }

    #[test]
    fn images_go_out_one_a_line_and_come_back_in_order() {
        let mut mug = record(1, "mug", "Mug", "");
        mug.images = vec![
            catalog::records::StoredImage {
                url: "/images/a.jpg".into(),
                alt: "The mug | from the side".into(),
            },
            catalog::records::StoredImage {
                url: "/images/b.jpg".into(),
                alt: String::new(),
            },
        ];
        let text = export(std::slice::from_ref(&mug));
        assert!(
            text.contains("\"/images/a.jpg | The mug | from the side\n/images/b.jpg\""),
            "{text}"
        );
        let preview = check(&text, std::slice::from_ref(&mug)).unwrap();
        assert_eq!(preview.rows[0].action, Action::Unchanged, "{preview:?}");
        // Reordered in the spreadsheet, without changing image_url: refused.
        let swapped = text.replace(
            "/images/a.jpg | The mug | from the side\n/images/b.jpg",
            "/images/b.jpg\n/images/a.jpg | The mug | from the side",
        );
        let errors = check(&swapped, std::slice::from_ref(&mug)).unwrap_err();
        assert_eq!(errors[0].field.as_deref(), Some("image_url"), "{errors:?}");
        let fixed = swapped.replace(
            "\"/images/a.jpg\",\"/images/b.jpg",
            "\"/images/b.jpg\",\"/images/b.jpg",
        );
        let preview = check(&fixed, std::slice::from_ref(&mug)).unwrap();
        assert_eq!(preview.rows[0].action, Action::Update, "{fixed}");
        assert_eq!(
            preview.plan.updates[0].2.images[1].alt,
            "The mug | from the side"
        );
    }

    #[test]
    fn the_merchandising_columns_go_out_and_come_back() {
        let mut tray = record(1, "tray", "Tray", "");
        tray.status = catalog::Status::Draft;
        tray.compare_at_price = Some("15.00".parse().unwrap());
        tray.seo_title = Some("A tray".into());
        tray.gtin = Some("4006381333931".into());
        tray.buy_url = Some("https://buy.example.com/tray".into());
        let text = export(std::slice::from_ref(&tray));
        assert!(
            text.starts_with(&format!("\"{}\"", HEADER.join("\",\""))),
            "{text}"
        );
        assert!(
            text.contains("\"draft\",\"15.00\",\"A tray\",\"\",\"4006381333931\",\"\",\"https://buy.example.com/tray\""),
            "{text}"
        );
        let preview = check(&text, std::slice::from_ref(&tray)).unwrap();
        assert_eq!(preview.rows[0].action, Action::Unchanged, "{preview:?}");
        let archived = text.replace("\"draft\"", "\"archived\"");
        let preview = check(&archived, std::slice::from_ref(&tray)).unwrap();
        assert_eq!(preview.rows[0].action, Action::Update);
        assert_eq!(
            preview.plan.updates[0].2.merchandising.status,
            catalog::Status::Archived
        );
    }

    #[test]
    fn an_old_file_keeps_an_updated_product_s_merchandising() {
        let mut tray = record(1, "tray", "Tray", "");
        tray.status = catalog::Status::Draft;
        tray.compare_at_price = Some("15.00".parse().unwrap());
        tray.mpn = Some("T-1".into());
        let text = "product_id,slug,name,price,category,stock_quantity,image_url,description\n\
                    1,tray,Tray,12.50,Kitchen,3,,\n\
                    ,,Bread Bin,20.00,Kitchen,1,,Oak.\n";
        let preview = check(text, std::slice::from_ref(&tray)).unwrap();
        assert_eq!(
            preview.rows[0].action,
            Action::Unchanged,
            "kept: {preview:?}"
        );
        let created = &preview.plan.creates[0].merchandising;
        assert_eq!(created, &catalog::Merchandising::default(), "the defaults");
        // A price raised above the kept compare-at price is checked with it.
        let raised = text.replace("1,tray,Tray,12.50", "1,tray,Tray,19.00");
        let errors = check(&raised, std::slice::from_ref(&tray)).unwrap_err();
        assert_eq!(errors[0].line, 2);
        assert_eq!(errors[0].field.as_deref(), Some("compare_at_price"));
        // A column that is there but empty clears the value.
        let cleared = "product_id,slug,name,price,category,stock_quantity,image_url,description,mpn\n\
                       1,tray,Tray,12.50,Kitchen,3,,,\n";
        let preview = check(cleared, std::slice::from_ref(&tray)).unwrap();
        let kept = &preview.plan.updates[0].2.merchandising;
        assert_eq!(kept.mpn, None);
        assert_eq!(kept.status, catalog::Status::Draft);
        // A short row (its trailing empty cells trimmed) keeps them too: a
        // draft does not go live because a tool dropped its status cell.
        let short = "product_id,slug,name,price,category,stock_quantity,image_url,description,status,mpn\n\
                     1,tray,Tray,12.50,Kitchen,3,,\n";
        let preview = check(short, std::slice::from_ref(&tray)).unwrap();
        assert_eq!(preview.rows[0].action, Action::Unchanged, "{preview:?}");
    }

    #[test]
    fn bad_merchandising_cells_are_reported_with_their_line() {
        let text = "slug,name,price,category,stock_quantity,image_url,description,status,compare_at_price,seo_title,seo_description,gtin,mpn,buy_url\n\
                    ,Good,1.00,Kitchen,1,,,draft,,,,,,\n\
                    ,Live,1.00,Kitchen,1,,,live,,,,,,\n\
                    ,Cheap,5.00,Kitchen,1,,,,4.00,,,,,\n\
                    ,Wordy,1.00,Kitchen,1,,,,,TITLE,,,,\n\
                    ,Code,1.00,Kitchen,1,,,,,,,4006381333932,,\n\
                    ,Plain,1.00,Kitchen,1,,,,,,,,,http://buy.example.com/x\n"
            .replace("TITLE", &"t".repeat(71));
        let errors: Vec<String> = check(&text, &[])
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        let starts: Vec<&str> = errors
            .iter()
            .map(|e| {
                &e[..e.find(": ").unwrap() + 2 + e[e.find(": ").unwrap() + 2..].find(':').unwrap()]
            })
            .collect();
        assert_eq!(
            starts,
            [
                "Line 3: status",
                "Line 4: compare_at_price",
                "Line 5: seo_title",
                "Line 6: gtin",
                "Line 7: buy_url"
            ],
            "{errors:?}"
        );
    }

    #[test]
    fn a_header_without_the_columns_is_refused() {
        let errors = check("name,price\nA,1.00\n", &[]).unwrap_err();
        assert_eq!(errors[0].line, 1);
        assert!(errors[0].message.contains("lacks slug"), "{errors:?}");
    }
}
