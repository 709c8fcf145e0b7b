//! The product form: the page that shows it (new, edit, with errors or
//! someone else's newer version), and reading and checking what was sent,
//! with its images.

use std::collections::BTreeMap;
use std::path::Path;

use catalog::records::{Fields, Record};
use catalog::types::{Mpn, Seo};
use poem::Response;
use poem::http::StatusCode;
use poem::web::Multipart;

use super::pages::{self, FormImage, Page, ProductForm};
use super::{Owner, current_catalog, image, settings};
use crate::products::{ProductImage, ProductInput, validate_with_status};
use crate::state::State;

/// What the create or edit form shows.
#[derive(Default)]
pub(super) struct FormView<'a> {
    /// The product being edited; none for a new one.
    pub(super) record: Option<&'a Record>,
    pub(super) form: ProductForm,
    pub(super) errors: BTreeMap<String, String>,
    /// Someone else's newer version (a 412).
    pub(super) conflict: Option<&'a Record>,
    pub(super) flash: Option<&'static str>,
}

pub(super) async fn form_page(
    state: &State,
    owner: &Owner,
    view: FormView<'_>,
    status: StatusCode,
) -> Response {
    let FormView {
        record,
        form,
        errors,
        conflict,
        flash,
    } = view;
    let form = &form;
    let errors = &errors;
    let settings = settings(state);
    let title = match record {
        Some(r) => format!("Edit {}", r.name),
        None => "New product".to_owned(),
    };
    let mut page = Page::new("product.html", &title, Some(owner));
    page.insert("form", form);
    page.insert("errors", errors);
    page.insert("categories", &categories(state).await.unwrap_or_default());
    page.insert(
        "preview",
        &render::markdown::to_safe_html(&form.description),
    );
    page.insert("product", &record.map(|r| pages::row(r, settings.as_ref())));
    page.insert(
        "conflict",
        &conflict.map(|r| pages::row(r, settings.as_ref())),
    );
    page.insert("max_image_mib", &(image::MAX_IMAGE / (1024 * 1024)));
    page.insert("statuses", &pages::statuses());
    page.insert("search", &form.search_result(settings.as_ref()));
    page.insert("max_seo_title", &Seo::MAX_TITLE);
    page.insert("max_seo_description", &Seo::MAX_DESCRIPTION);
    page.insert("max_mpn", &Mpn::MAX_LEN);
    page.insert(
        "missing_alt",
        &form
            .images
            .iter()
            .filter(|i| i.alt.trim().is_empty())
            .count(),
    );
    if let Some(flash) = flash {
        page.insert("flash", flash);
    }
    page.render(status)
}

/// Every category in use, by name.
pub(super) async fn categories(state: &State) -> Result<Vec<String>, crate::store::StoreError> {
    let mut names: Vec<String> = current_catalog(state)
        .await?
        .into_iter()
        .filter_map(|r| r.category)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// A button of the image list: the form comes back with the change made,
/// not yet saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ImageOp {
    /// Swap image `n` with the one before it (image 1 becomes the main one).
    Up(usize),
    Remove(usize),
}

impl ImageOp {
    fn parse(text: &str) -> Option<Self> {
        let (op, n) = text.split_once(':')?;
        let n = n.parse().ok()?;
        match op {
            "up" => Some(Self::Up(n)),
            "remove" => Some(Self::Remove(n)),
            _ => None,
        }
    }

    fn apply(self, images: &mut Vec<FormImage>) {
        match self {
            Self::Up(n) if n > 0 && n < images.len() => images.swap(n - 1, n),
            Self::Remove(n) if n < images.len() => {
                images.remove(n);
            }
            _ => {}
        }
    }
}

/// Why a form could not be read.
pub(super) enum FormError {
    /// The body passed the route's limit (413).
    TooLarge(String),
    Unreadable(String),
}

/// A submitted product form: the fields, new images, and an image-list
/// button if one was pressed.
pub(super) struct Submitted {
    pub(super) form: ProductForm,
    pub(super) csrf: String,
    /// "Save mine anyway": the version to overwrite.
    pub(super) overwrite: Option<String>,
    uploads: Vec<image::Spooled>,
    /// Files refused while they arrived (too large), by message.
    refused: Vec<String>,
    op: Option<ImageOp>,
}

/// Reads the form, spooling each chosen file to `upload_dir` as it arrives.
pub(super) async fn read_form(
    mut multipart: Multipart,
    upload_dir: &Path,
) -> Result<Submitted, FormError> {
    let unreadable = |what: &str, e: &dyn std::fmt::Display| {
        let text = e.to_string();
        if text.contains(crate::BODY_OVER_LIMIT) {
            FormError::TooLarge(super::too_large_message())
        } else {
            FormError::Unreadable(format!("{what} could not be read: {text}"))
        }
    };
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut listed: BTreeMap<usize, (String, String)> = BTreeMap::new();
    let mut uploads = Vec::new();
    let mut refused = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| unreadable("The form", &e))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "image" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            match image::spool(field.into_async_read(), &file_name, upload_dir).await {
                Ok(spooled) if spooled.is_empty() && file_name.is_empty() => {} // none chosen
                Ok(spooled) => uploads.push(spooled),
                Err(image::Refused::Unusable(e)) if e.contains(crate::BODY_OVER_LIMIT) => {
                    return Err(FormError::TooLarge(super::too_large_message()));
                }
                // The rest of the file is skipped; the form is still read,
                // so what was typed comes back with the message.
                Err(e @ image::Refused::TooLarge(_)) => refused.push(e.to_string()),
                // The spool's own failure names the server's folders: logged.
                Err(e @ image::Refused::Spool(_)) => {
                    tracing::error!("{e}");
                    return Err(FormError::Unreadable(
                        "The upload could not be kept for checking; the server's log says why."
                            .into(),
                    ));
                }
                Err(e) => return Err(FormError::Unreadable(e.to_string())),
            }
            continue;
        }
        let text = field
            .text()
            .await
            .map_err(|e| unreadable(&format!("The field {name}"), &e))?;
        let indexed = |prefix: &str| name.strip_prefix(prefix).and_then(|n| n.parse().ok());
        if let Some(n) = indexed("image_url_") {
            listed.entry(n).or_default().0 = text;
        } else if let Some(n) = indexed("image_alt_") {
            listed.entry(n).or_default().1 = text;
        } else {
            fields.insert(name, text);
        }
    }
    let mut take = |name: &str| fields.remove(name).unwrap_or_default();
    let images = listed
        .into_values()
        .filter(|(url, _)| !url.trim().is_empty())
        .map(|(url, alt)| FormImage::new(url.trim().to_owned(), alt))
        .collect();
    Ok(Submitted {
        csrf: take("csrf"),
        overwrite: Some(take("overwrite_version")).filter(|v| !v.is_empty()),
        op: ImageOp::parse(&take("image_op")),
        form: ProductForm {
            name: take("name"),
            slug: take("slug"),
            price: take("price"),
            category: take("category"),
            stock_quantity: take("stock_quantity"),
            description: take("description").replace("\r\n", "\n"),
            images,
            version: take("version"),
            status: take("status"),
            compare_at_price: take("compare_at_price"),
            seo_title: take("seo_title"),
            seo_description: take("seo_description"),
            gtin: take("gtin"),
            mpn: take("mpn"),
            buy_url: take("buy_url"),
        },
        uploads,
        refused,
    })
}

/// Checks every field and each new image, all problems at once. A good new
/// image is stored at once and joins the list (content-addressed, so that
/// nothing needs uploading twice); a refused one is not stored. `Ok(None)`:
/// an image-list button was pressed, so the form is shown again unsaved.
pub(super) async fn checked(
    state: &State,
    submitted: &mut Submitted,
) -> Result<Option<Fields>, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let mut refused = std::mem::take(&mut submitted.refused);
    for spooled in std::mem::take(&mut submitted.uploads) {
        let stored = async {
            let upload = image::check(&spooled).await?;
            let bytes = spooled.bytes().await?;
            state
                .store
                .put_image(&upload.sha256, upload.extension, &bytes)
                .await
                .map_err(|e| image::Refused::Spool(pages::problem_of(e).1))?;
            Ok::<_, image::Refused>(upload)
        };
        match stored.await {
            Ok(upload) => {
                let url = upload.url();
                if !submitted.form.images.iter().any(|i| i.url == url) {
                    submitted
                        .form
                        .images
                        .push(FormImage::new(url, String::new()));
                }
            }
            Err(e) => refused.push(e.to_string()),
        }
    }
    if !refused.is_empty() {
        errors.insert("image".to_owned(), refused.join(" "));
    }
    if let Some(op) = submitted.op {
        op.apply(&mut submitted.form.images);
        return if errors.is_empty() {
            Ok(None)
        } else {
            Err(errors)
        };
    }
    let form = &submitted.form;
    let stock = match form.stock_quantity.trim().parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            errors.insert(
                "stock_quantity".to_owned(),
                format!(
                    "{:?} is not a whole number; expected 0 or more",
                    form.stock_quantity
                ),
            );
            0
        }
    };
    let input = ProductInput {
        slug: Some(form.slug.trim().to_owned()).filter(|s| !s.is_empty()),
        name: form.name.clone(),
        description: form.description.clone(),
        price: form.price.trim().to_owned(),
        image_url: None,
        images: Some(
            form.images
                .iter()
                .map(|i| ProductImage {
                    url: i.url.clone(),
                    alt: i.alt.clone(),
                })
                .collect(),
        ),
        category: form.category.trim().to_owned(),
        stock_quantity: stock,
        status: None,
        compare_at_price: Some(form.compare_at_price.clone()),
        seo_title: Some(form.seo_title.clone()),
        seo_description: Some(form.seo_description.clone()),
        gtin: Some(form.gtin.clone()),
        mpn: Some(form.mpn.clone()),
        buy_url: Some(form.buy_url.clone()),
    };
    match validate_with_status(&input, Some(&form.status)) {
        Ok(fields) if errors.is_empty() => Ok(Some(fields)),
        Ok(_) => Err(errors),
        Err(bad) => {
            for e in bad {
                errors.entry(e.field).or_insert(e.message);
            }
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_buttons_move_and_remove_and_ignore_what_is_not_there() {
        let list = || -> Vec<FormImage> {
            ["a", "b", "c"]
                .iter()
                .map(|u| FormImage::new(format!("/images/{u}.jpg"), (*u).to_owned()))
                .collect()
        };
        let urls = |images: &[FormImage]| -> Vec<String> {
            images.iter().map(|i| i.alt.clone()).collect()
        };
        let mut images = list();
        ImageOp::parse("up:1").unwrap().apply(&mut images);
        assert_eq!(
            urls(&images),
            ["b", "a", "c"],
            "the second becomes the main one"
        );
        ImageOp::parse("remove:2").unwrap().apply(&mut images);
        assert_eq!(urls(&images), ["b", "a"]);
        for stale in ["up:0", "up:9", "remove:9"] {
            let mut images = list();
            ImageOp::parse(stale).unwrap().apply(&mut images);
            assert_eq!(urls(&images), ["a", "b", "c"], "{stale}");
        }
        assert_eq!(ImageOp::parse("drop:1"), None);
        assert_eq!(ImageOp::parse("up:x"), None);
        assert_eq!(images_of_thumbnail(), "/admin/images/a.jpg?thumb");
    }

    fn images_of_thumbnail() -> String {
        FormImage::new("/images/a.jpg".into(), String::new()).thumbnail
    }
}
