//! The products: the list, the new and edit forms and their saving, delete,
//! the history, and the description's preview.

use std::collections::BTreeMap;
use std::sync::Arc;

use catalog::Status;
use catalog::records::{Fields, Filter, Record, Sort, WriteRefused};
use poem::http::StatusCode;
use poem::web::{Data, Form, Multipart, Path, Query};
use poem::{Response, handler};
use serde::Deserialize;

use super::form::{FormError, FormView, categories, checked, form_page, read_form};
use super::pages::{self, Page, ProductForm};
use super::{Owner, early, encode, failed, redirect, settings};
use crate::state::State;
use crate::store::StoreError;

/// Products per list page.
const PER_PAGE: i64 = 25;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    q: Option<String>,
    category: Option<String>,
    stock: Option<String>,
    sort: Option<String>,
    status: Option<String>,
    page: Option<i64>,
    done: Option<String>,
    name: Option<String>,
    created: Option<usize>,
    updated: Option<usize>,
    unchanged: Option<usize>,
}

fn sort_of(key: Option<&str>) -> Sort {
    match key {
        Some("price") => Sort::PriceUp,
        Some("-price") => Sort::PriceDown,
        Some("updated") => Sort::Updated,
        _ => Sort::Name,
    }
}

/// The form's error for a slug another product has.
fn slug_taken(fields: &Fields) -> BTreeMap<String, String> {
    BTreeMap::from([(
        "slug".to_owned(),
        format!(
            "another product already has the slug {:?}; choose another",
            fields.slug.as_str()
        ),
    )])
}

/// A product, or the page that says it is gone.
pub(super) async fn product_or_page(state: &State, id: i64) -> poem::Result<Record> {
    match state.store.get(id, true).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(early(pages::error(
            StatusCode::NOT_FOUND,
            &format!("There is no product {id}; someone may have deleted it."),
        ))),
        Err(e) => Err(early(failed(e))),
    }
}

#[handler]
pub(super) async fn list(state: Data<&Arc<State>>, q: Query<ListQuery>, owner: Owner) -> Response {
    let text = q.q.clone().unwrap_or_default().replace('\0', "");
    let category = q.category.clone().unwrap_or_default().replace('\0', "");
    let page_number = q.page.unwrap_or(1).clamp(1, 100_000);
    // Anything but a known status lists every status.
    let status = q.status.as_deref().and_then(|s| Status::parse(s).ok());
    let filter = Filter {
        category: Some(category.clone()).filter(|c| !c.is_empty()),
        in_stock: match q.stock.as_deref() {
            Some("in") => Some(true),
            Some("out") => Some(false),
            _ => None,
        },
        text: Some(text.clone()).filter(|t| !t.trim().is_empty()),
        sort: sort_of(q.sort.as_deref()),
        status,
        limit: PER_PAGE,
        offset: (page_number - 1) * PER_PAGE,
    };
    let (rows, total) = match state.store.list(&filter, true).await {
        Ok(found) => found,
        Err(e) => return failed(e),
    };
    let categories = categories(&state).await.unwrap_or_default();
    let settings = settings(&state);
    let mut page = Page::new("products.html", "Products", Some(&owner));
    page.insert("products", &pages::rows(&rows, settings.as_ref()));
    page.insert("total", &total);
    page.insert("categories", &categories);
    page.insert("q", &text);
    page.insert("category", &category);
    page.insert("stock", &q.stock.clone().unwrap_or_default());
    page.insert("sort", &q.sort.clone().unwrap_or_else(|| "name".into()));
    page.insert("status", &status.map(Status::as_str).unwrap_or_default());
    page.insert("statuses", &pages::statuses());
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    page.insert("page", &page_number);
    page.insert("pages", &pages);
    let query_without_page = |n: i64| {
        format!(
            "?q={}&category={}&stock={}&status={}&sort={}&page={n}",
            encode(&text),
            encode(&category),
            encode(q.stock.as_deref().unwrap_or_default()),
            status.map(Status::as_str).unwrap_or_default(),
            encode(q.sort.as_deref().unwrap_or_default()),
        )
    };
    page.insert(
        "prev_link",
        &(page_number > 1).then(|| query_without_page(page_number - 1)),
    );
    page.insert(
        "next_link",
        &(page_number < pages).then(|| query_without_page(page_number + 1)),
    );
    let mut args = BTreeMap::new();
    if let Some(name) = &q.name {
        args.insert("name", name.clone());
    }
    for (key, value) in [
        ("created", q.created),
        ("updated", q.updated),
        ("unchanged", q.unchanged),
    ] {
        args.insert(key, value.unwrap_or(0).to_string());
    }
    page.flash(q.done.as_deref(), &args);
    page.render(StatusCode::OK)
}

#[handler]
pub(super) async fn new_product(state: Data<&Arc<State>>, owner: Owner) -> Response {
    // A new product starts as a draft in the admin, kept off the storefront
    // until its owner makes it active (the JSON API's default is active).
    let form = ProductForm {
        stock_quantity: "0".into(),
        status: Status::Draft.as_str().to_owned(),
        ..ProductForm::default()
    };
    form_page(
        &state,
        &owner,
        FormView {
            form,
            ..FormView::default()
        },
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize, Default)]
pub(super) struct EditQuery {
    done: Option<String>,
}

#[handler]
pub(super) async fn edit_product(
    state: Data<&Arc<State>>,
    id: Path<i64>,
    q: Query<EditQuery>,
    owner: Owner,
) -> poem::Result<Response> {
    let record = product_or_page(&state, id.0).await?;
    let view = FormView {
        record: Some(&record),
        form: ProductForm::of(&record),
        flash: (q.done.as_deref() == Some("saved")).then_some("Saved."),
        ..FormView::default()
    };
    Ok(form_page(&state, &owner, view, StatusCode::OK).await)
}

#[handler]
pub(super) async fn create(
    state: Data<&Arc<State>>,
    multipart: Multipart,
    owner: poem::Result<Owner>,
) -> poem::Result<Response> {
    save(&state, None, multipart, owner).await
}

#[handler]
pub(super) async fn update(
    state: Data<&Arc<State>>,
    id: Path<i64>,
    multipart: Multipart,
    owner: poem::Result<Owner>,
) -> poem::Result<Response> {
    save(&state, Some(id.0), multipart, owner).await
}

/// Saves the product form: a new product, or product `id`. The session is
/// checked before a byte of the body is read (it may hold large photos);
/// the CSRF token, which is in the form, right after.
async fn save(
    state: &State,
    id: Option<i64>,
    multipart: Multipart,
    owner: poem::Result<Owner>,
) -> poem::Result<Response> {
    let owner = owner?;
    let mut submitted = match read_form(multipart, &state.upload_dir).await {
        Ok(s) => s,
        Err(FormError::TooLarge(message)) => {
            return Ok(pages::error(StatusCode::PAYLOAD_TOO_LARGE, &message));
        }
        Err(FormError::Unreadable(message)) => {
            return Ok(pages::error(StatusCode::UNPROCESSABLE_ENTITY, &message));
        }
    };
    owner.check_csrf(state, &submitted.csrf)?;
    let current = match id {
        Some(id) => Some(product_or_page(state, id).await?),
        None => None,
    };
    let fields = match checked(state, &mut submitted).await {
        Ok(Some(f)) => f,
        // An image button: the list as changed, not saved yet.
        Ok(None) => {
            let view = FormView {
                record: current.as_ref(),
                form: submitted.form,
                flash: Some("Images changed; save to keep the change."),
                ..FormView::default()
            };
            return Ok(form_page(state, &owner, view, StatusCode::OK).await);
        }
        Err(errors) => {
            let view = FormView {
                record: current.as_ref(),
                form: submitted.form,
                errors,
                ..FormView::default()
            };
            return Ok(form_page(state, &owner, view, StatusCode::UNPROCESSABLE_ENTITY).await);
        }
    };
    let saved = match &current {
        None => state.store.create(&owner.user.email, &fields).await,
        Some(current) => {
            let expected = submitted
                .overwrite
                .as_deref()
                .unwrap_or(&submitted.form.version)
                .parse::<i64>()
                .unwrap_or(-1);
            let email = &owner.user.email;
            let id = current.product_id;
            state.store.update(email, id, expected, &fields).await
        }
    };
    let (status, theirs, errors) = match saved {
        Ok(record) => {
            state.catalog_written();
            return Ok(redirect(&format!(
                "/admin/products/{}/edit?done=saved",
                record.product_id
            )));
        }
        Err(StoreError::Refused(WriteRefused::Stale { .. })) => {
            let theirs = match &current {
                Some(c) => state.store.get(c.product_id, true).await.ok().flatten(),
                None => None,
            };
            (StatusCode::PRECONDITION_FAILED, theirs, BTreeMap::new())
        }
        Err(StoreError::Refused(WriteRefused::DuplicateSlug(_))) => {
            (StatusCode::CONFLICT, None, slug_taken(&fields))
        }
        Err(e) => return Ok(failed(e)),
    };
    let conflict = (status == StatusCode::PRECONDITION_FAILED)
        .then(|| theirs.as_ref().or(current.as_ref()))
        .flatten();
    let view = FormView {
        record: current.as_ref(),
        form: submitted.form,
        errors,
        conflict,
        flash: None,
    };
    Ok(form_page(state, &owner, view, status).await)
}

#[handler]
pub(super) async fn confirm_delete(
    state: Data<&Arc<State>>,
    id: Path<i64>,
    owner: Owner,
) -> Response {
    match state.store.get(id.0, true).await {
        Ok(Some(record)) => {
            let mut page = Page::new(
                "delete.html",
                &format!("Delete {}", record.name),
                Some(&owner),
            );
            page.insert("product", &pages::row(&record, settings(&state).as_ref()));
            page.render(StatusCode::OK)
        }
        Ok(None) => pages::error(
            StatusCode::NOT_FOUND,
            &format!("There is no product {}.", id.0),
        ),
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
pub(super) struct DeleteForm {
    #[serde(default)]
    csrf: String,
    version: Option<i64>,
}

#[handler]
pub(super) async fn delete(
    state: Data<&Arc<State>>,
    id: Path<i64>,
    form: Form<DeleteForm>,
    owner: Owner,
) -> poem::Result<Response> {
    owner.check_csrf(&state, &form.csrf)?;
    let name = match state.store.get(id.0, true).await {
        Ok(Some(r)) => r.name,
        Ok(None) => return Ok(redirect("/admin/products")),
        Err(e) => return Ok(failed(e)),
    };
    Ok(
        match state
            .store
            .delete(&owner.user.email, id.0, form.version)
            .await
        {
            Ok(()) => {
                state.catalog_written();
                redirect(&format!(
                    "/admin/products?done=deleted&name={}",
                    encode(&name)
                ))
            }
            Err(StoreError::Refused(WriteRefused::Stale { .. })) => pages::error(
                StatusCode::PRECONDITION_FAILED,
                "Someone else changed this product after you opened this page; it was not deleted. Look at it again first.",
            ),
            Err(e) => failed(e),
        },
    )
}

#[handler]
pub(super) async fn history(state: Data<&Arc<State>>, id: Path<i64>, owner: Owner) -> Response {
    let record = state.store.get(id.0, true).await.ok().flatten();
    let rows = match state.store.history(id.0, 500).await {
        Ok(rows) => rows,
        Err(e) => return failed(e),
    };
    let name = record
        .as_ref()
        .map_or_else(|| format!("product {} (deleted)", id.0), |r| r.name.clone());
    let mut page = Page::new("history.html", &format!("History of {name}"), Some(&owner));
    page.insert("product_id", &id.0);
    page.insert("exists", &record.is_some());
    page.insert("name", &name);
    page.insert("changes", &pages::changes(&rows));
    page.render(StatusCode::OK)
}

#[derive(Deserialize)]
pub(super) struct PreviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    markdown: String,
}

/// The description as the storefront will show it: the same renderer and
/// sanitizer.
#[handler]
pub(super) fn markdown_preview(
    state: Data<&Arc<State>>,
    form: Form<PreviewForm>,
    owner: Owner,
) -> poem::Result<Response> {
    owner.check_csrf(&state, &form.csrf)?;
    Ok(Response::builder()
        .content_type("text/html; charset=utf-8")
        .body(render::markdown::to_safe_html(&form.markdown)))
}
