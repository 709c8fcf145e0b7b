//! The product form: the page that shows it (new, edit, with errors or
//! someone else's newer version), and reading and checking what was sent,
//! with the image.

use std::collections::BTreeMap;

use catalog::records::{Fields, Record};
use poem::Response;
use poem::http::StatusCode;
use poem::web::Multipart;

use super::pages::{self, Page, ProductForm};
use super::{Owner, current_catalog, image, settings};
use crate::products::{ProductInput, validate};
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

/// A submitted product form: the fields and an optional new image.
pub(super) struct Submitted {
    pub(super) form: ProductForm,
    pub(super) csrf: String,
    /// "Save mine anyway": the version to overwrite.
    pub(super) overwrite: Option<String>,
    image: Option<(String, Vec<u8>)>,
}

pub(super) async fn read_form(mut multipart: Multipart) -> Result<Submitted, String> {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut image = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| format!("The form could not be read: {e}"))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "image" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| format!("The image could not be read: {e}"))?;
            if !bytes.is_empty() {
                image = Some((file_name, bytes));
            }
        } else {
            let text = field
                .text()
                .await
                .map_err(|e| format!("The field {name} could not be read: {e}"))?;
            fields.insert(name, text);
        }
    }
    let mut take = |name: &str| fields.remove(name).unwrap_or_default();
    Ok(Submitted {
        csrf: take("csrf"),
        overwrite: Some(take("overwrite_version")).filter(|v| !v.is_empty()),
        form: ProductForm {
            name: take("name"),
            slug: take("slug"),
            price: take("price"),
            category: take("category"),
            stock_quantity: take("stock_quantity"),
            description: take("description").replace("\r\n", "\n"),
            image_url: take("image_url"),
            version: take("version"),
        },
        image,
    })
}

/// Checks every field and the image, all problems at once; nothing is
/// stored unless all is well.
pub(super) async fn checked(
    state: &State,
    submitted: &mut Submitted,
) -> Result<Fields, BTreeMap<String, String>> {
    let form = &submitted.form;
    let mut errors = BTreeMap::new();
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
    let upload = match &submitted.image {
        Some((name, bytes)) => match image::check(name, bytes) {
            Ok(u) => Some(u),
            Err(message) => {
                errors.insert("image".to_owned(), message);
                None
            }
        },
        None => None,
    };
    let input = ProductInput {
        slug: Some(form.slug.trim().to_owned()).filter(|s| !s.is_empty()),
        name: form.name.clone(),
        description: form.description.clone(),
        price: form.price.trim().to_owned(),
        image_url: upload
            .as_ref()
            .map(image::Upload::url)
            .or_else(|| Some(form.image_url.trim().to_owned()).filter(|u| !u.is_empty())),
        category: form.category.trim().to_owned(),
        stock_quantity: stock,
    };
    let fields = match validate(&input) {
        Ok(f) => Some(f),
        Err(bad) => {
            for e in bad {
                errors.entry(e.field).or_insert(e.message);
            }
            None
        }
    };
    match fields {
        Some(fields) if errors.is_empty() => {
            if let (Some(upload), Some((_, bytes))) = (&upload, &submitted.image) {
                if let Err(e) = state
                    .store
                    .put_image(&upload.sha256, upload.extension, bytes)
                    .await
                {
                    let (_, detail) = pages::problem_of(e);
                    errors.insert(
                        "image".to_owned(),
                        format!("The image could not be stored: {detail}"),
                    );
                    return Err(errors);
                }
                submitted.form.image_url = upload.url();
            }
            Ok(fields)
        }
        _ => Err(errors),
    }
}
