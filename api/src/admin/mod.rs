//! The admin UI at `/admin`: server-rendered pages (Tera) for the shop
//! owner, on the same sessions, stores and validation as the JSON API. Every
//! page works without JavaScript; `admin.js` only adds the live Markdown
//! preview. Every state-changing form carries the session's CSRF token, and
//! every answer carries a strict Content-Security-Policy.

pub mod csv;
pub mod image;
mod pages;

use std::collections::BTreeMap;
use std::sync::Arc;

use catalog::SiteSettings;
use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Multipart, Path, Query};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler, post};
use serde::Deserialize;

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::products::{ProductInput, validate};
use crate::session::{COOKIE, Session};
use crate::state::State;
use catalog::records::{Filter, Record, Sort};
use pages::{Page, ProductForm};

/// The largest request body the admin accepts: an image and the form.
pub const MAX_BODY: usize = image::MAX_IMAGE + 512 * 1024;
/// Products per list page.
const PER_PAGE: i64 = 25;

/// Sent with every admin answer.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The admin's routes, to nest at `/admin`.
pub fn routes() -> impl Endpoint {
    Route::new()
        .at("/", get(home))
        .at("/login", get(login_page).post(login))
        .at("/logout", post(logout))
        .at("/products", get(list))
        .at("/products/new", get(new_product).post(create))
        .at("/products/:id/edit", get(edit_product).post(update))
        .at("/products/:id/delete", get(confirm_delete).post(delete))
        .at("/products/:id/history", get(history))
        .at("/publishing", get(publishing))
        .at("/publishing/rebuild", post(rebuild))
        .at("/export.csv", get(export))
        .at("/import", get(import_page).post(import_check))
        .at("/import/apply", post(import_apply))
        .at("/preview", post(markdown_preview))
        .at("/images/:file", get(image_file))
        .at("/assets/:file", get(asset))
        .around(|next, req| async move {
            let mut response = match next.call(req).await {
                Ok(r) => r.into_response(),
                Err(e) => {
                    let status = e.status();
                    pages::error(status, &e.to_string())
                }
            };
            secure(&mut response);
            Ok::<_, poem::Error>(response)
        })
}

/// The security headers of every admin answer (an image's own stricter CSP
/// is kept).
fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        if name == "content-security-policy" && headers.contains_key(name) {
            continue;
        }
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
}

/// The logged-in owner of a request.
struct Owner {
    user: AdminUser,
    session: Session,
    csrf: String,
}

fn session_cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The owner, or the way to the login page.
fn owner(req: &Request, state: &State) -> Result<Owner, Box<Response>> {
    let session = session_cookie(req)
        .and_then(|v| state.sessions.verify(&v))
        .ok_or_else(|| {
            let next = req
                .original_uri()
                .path_and_query()
                .map_or("/admin/products", |p| p.as_str());
            let next = if req.method() == poem::http::Method::GET {
                next
            } else {
                "/admin/products"
            };
            Box::new(redirect(&format!("/admin/login?next={}", encode(next))))
        })?;
    Ok(Owner {
        user: AdminUser {
            user_id: session.user_id,
            email: session.email.clone(),
        },
        csrf: state.sessions.csrf(&session),
        session,
    })
}

/// The owner, if the form's CSRF token is the session's.
fn owner_with_csrf(req: &Request, state: &State, token: &str) -> Result<Owner, Box<Response>> {
    let owner = owner(req, state)?;
    if state.sessions.csrf_matches(&owner.session, token) {
        Ok(owner)
    } else {
        Err(Box::new(pages::error(
            StatusCode::FORBIDDEN,
            "This form is out of date or did not come from this site. Go back, reload the page and try again.",
        )))
    }
}

fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .finish()
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An error the store reported, as a page.
fn failed(e: ApiError) -> Response {
    let (status, detail) = pages::problem_of(e);
    pages::error(status, &detail)
}

fn settings(state: &State) -> Option<SiteSettings> {
    content::load_settings(&state.content_dir.join("site.toml")).ok()
}

/// The answer to an upload over [`MAX_BODY`].
pub fn too_large() -> Response {
    let mut response = pages::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "The form is larger than {} MiB. Images may be at most {} MiB; choose a smaller one.",
            MAX_BODY / (1024 * 1024),
            image::MAX_IMAGE / (1024 * 1024)
        ),
    );
    secure(&mut response);
    response
}

#[handler]
fn home() -> Response {
    redirect("/admin/products")
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
    done: Option<String>,
}

#[handler]
fn login_page(req: &Request, state: Data<&Arc<State>>, q: Query<LoginQuery>) -> Response {
    if owner(req, &state).is_ok() {
        return redirect("/admin/products");
    }
    let mut page = Page::new("login.html", "Log in", None);
    page.insert("next", &safe_next(q.next.as_deref()));
    page.flash(q.done.as_deref(), &BTreeMap::new());
    page.render(StatusCode::OK)
}

/// Only paths inside the admin are followed after a login.
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with("/admin/") && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/admin/products")
        .to_owned()
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[handler]
async fn login(req: &Request, state: Data<&Arc<State>>, form: Form<LoginForm>) -> Response {
    match crate::login::log_in(&state, req, &form.email, &form.password).await {
        Ok((_, set_cookie)) => {
            let mut response = redirect(&safe_next(form.next.as_deref()));
            if let Ok(value) = set_cookie.parse() {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => {
            let (status, detail) = pages::problem_of(e);
            let message = if status == StatusCode::UNAUTHORIZED {
                "The e-mail address or the password is wrong.".to_owned()
            } else {
                capitalize(&detail)
            };
            let mut page = Page::new("login.html", "Log in", None);
            page.insert("next", &safe_next(form.next.as_deref()));
            page.insert("email", &form.email);
            page.insert("error", &message);
            page.render(status)
        }
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[handler]
fn logout(req: &Request, state: Data<&Arc<State>>, form: Form<CsrfForm>) -> Response {
    if let Err(r) = owner_with_csrf(req, &state, &form.csrf) {
        return *r;
    }
    let (_, https) = state.client(req);
    let mut response = redirect("/admin/login?done=logged-out");
    if let Ok(value) = crate::login::cookie("", 0, https).parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize, Default)]
struct ListQuery {
    q: Option<String>,
    category: Option<String>,
    stock: Option<String>,
    sort: Option<String>,
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

/// Every category in use, by name.
async fn categories(state: &State) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = current_catalog(state)
        .await?
        .into_iter()
        .filter_map(|r| r.category)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Every product, read from the primary.
async fn current_catalog(state: &State) -> Result<Vec<Record>, ApiError> {
    let (all, _) = state
        .store
        .list(
            &Filter {
                limit: 100_000,
                ..Filter::default()
            },
            true,
        )
        .await?;
    Ok(all)
}

/// The form's error for a slug another product has.
fn slug_taken(fields: &catalog::records::Fields) -> BTreeMap<String, String> {
    BTreeMap::from([(
        "slug".to_owned(),
        format!(
            "another product already has the slug {:?}; choose another",
            fields.slug.as_str()
        ),
    )])
}

/// A product, or the page that says it is gone.
async fn product_or_page(state: &State, id: i64) -> Result<Record, Box<Response>> {
    match state.store.get(id, true).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(Box::new(pages::error(
            StatusCode::NOT_FOUND,
            &format!("There is no product {id}; someone may have deleted it."),
        ))),
        Err(e) => Err(Box::new(failed(e))),
    }
}

#[handler]
async fn list(req: &Request, state: Data<&Arc<State>>, q: Query<ListQuery>) -> Response {
    let owner = match owner(req, &state) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let text = q.q.clone().unwrap_or_default().replace('\0', "");
    let category = q.category.clone().unwrap_or_default().replace('\0', "");
    let page_number = q.page.unwrap_or(1).clamp(1, 100_000);
    let filter = Filter {
        category: Some(category.clone()).filter(|c| !c.is_empty()),
        in_stock: match q.stock.as_deref() {
            Some("in") => Some(true),
            Some("out") => Some(false),
            _ => None,
        },
        text: Some(text.clone()).filter(|t| !t.trim().is_empty()),
        sort: sort_of(q.sort.as_deref()),
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
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    page.insert("page", &page_number);
    page.insert("pages", &pages);
    let query_without_page = |n: i64| {
        format!(
            "?q={}&category={}&stock={}&sort={}&page={n}",
            encode(&text),
            encode(&category),
            encode(q.stock.as_deref().unwrap_or_default()),
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
async fn new_product(req: &Request, state: Data<&Arc<State>>) -> Response {
    let owner = match owner(req, &state) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let form = ProductForm {
        stock_quantity: "0".into(),
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
struct EditQuery {
    done: Option<String>,
}

#[handler]
async fn edit_product(
    req: &Request,
    state: Data<&Arc<State>>,
    id: Path<i64>,
    q: Query<EditQuery>,
) -> Response {
    let owner = match owner(req, &state) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let record = match product_or_page(&state, id.0).await {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let view = FormView {
        record: Some(&record),
        form: ProductForm::of(&record),
        flash: (q.done.as_deref() == Some("saved")).then_some("Saved."),
        ..FormView::default()
    };
    form_page(&state, &owner, view, StatusCode::OK).await
}

/// What the create or edit form shows.
#[derive(Default)]
struct FormView<'a> {
    /// The product being edited; none for a new one.
    record: Option<&'a Record>,
    form: ProductForm,
    errors: BTreeMap<String, String>,
    /// Someone else's newer version (a 412).
    conflict: Option<&'a Record>,
    flash: Option<&'static str>,
}

async fn form_page(
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

/// A submitted product form: the fields and an optional new image.
struct Submitted {
    form: ProductForm,
    csrf: String,
    /// "Save mine anyway": the version to overwrite.
    overwrite: Option<String>,
    image: Option<(String, Vec<u8>)>,
}

async fn read_form(mut multipart: Multipart) -> Result<Submitted, String> {
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
async fn checked(
    state: &State,
    submitted: &mut Submitted,
) -> Result<catalog::records::Fields, BTreeMap<String, String>> {
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

#[handler]
async fn create(req: &Request, state: Data<&Arc<State>>, multipart: Multipart) -> Response {
    save(req, &state, None, multipart).await
}

#[handler]
async fn update(
    req: &Request,
    state: Data<&Arc<State>>,
    id: Path<i64>,
    multipart: Multipart,
) -> Response {
    save(req, &state, Some(id.0), multipart).await
}

/// Saves the product form: a new product, or product `id`.
async fn save(req: &Request, state: &State, id: Option<i64>, multipart: Multipart) -> Response {
    let mut submitted = match read_form(multipart).await {
        Ok(s) => s,
        Err(message) => return pages::error(StatusCode::UNPROCESSABLE_ENTITY, &message),
    };
    let owner = match owner_with_csrf(req, state, &submitted.csrf) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let current = match id {
        Some(id) => match product_or_page(state, id).await {
            Ok(r) => Some(r),
            Err(r) => return *r,
        },
        None => None,
    };
    let fields = match checked(state, &mut submitted).await {
        Ok(f) => f,
        Err(errors) => {
            let view = FormView {
                record: current.as_ref(),
                form: submitted.form,
                errors,
                ..FormView::default()
            };
            return form_page(state, &owner, view, StatusCode::UNPROCESSABLE_ENTITY).await;
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
            return redirect(&format!(
                "/admin/products/{}/edit?done=saved",
                record.product_id
            ));
        }
        Err(ApiError::PreconditionFailed(_)) => {
            let theirs = match &current {
                Some(c) => state.store.get(c.product_id, true).await.ok().flatten(),
                None => None,
            };
            (StatusCode::PRECONDITION_FAILED, theirs, BTreeMap::new())
        }
        Err(ApiError::Conflict(_)) => (StatusCode::CONFLICT, None, slug_taken(&fields)),
        Err(e) => return failed(e),
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
    form_page(state, &owner, view, status).await
}

#[handler]
async fn confirm_delete(req: &Request, state: Data<&Arc<State>>, id: Path<i64>) -> Response {
    let owner = match owner(req, &state) {
        Ok(o) => o,
        Err(r) => return *r,
    };
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
struct DeleteForm {
    #[serde(default)]
    csrf: String,
    version: Option<i64>,
}

#[handler]
async fn delete(
    req: &Request,
    state: Data<&Arc<State>>,
    id: Path<i64>,
    form: Form<DeleteForm>,
) -> Response {
    let owner = match owner_with_csrf(req, &state, &form.csrf) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let name = match state.store.get(id.0, true).await {
        Ok(Some(r)) => r.name,
        Ok(None) => return redirect("/admin/products"),
        Err(e) => return failed(e),
    };
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
        Err(ApiError::PreconditionFailed(_)) => pages::error(
            StatusCode::PRECONDITION_FAILED,
            "Someone else changed this product after you opened this page; it was not deleted. Look at it again first.",
        ),
        Err(e) => failed(e),
    }
}

#[handler]
async fn history(req: &Request, state: Data<&Arc<State>>, id: Path<i64>) -> Response {
    let owner = match owner(req, &state) {
        Ok(o) => o,
        Err(r) => return *r,
    };
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

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

#[handler]
async fn publishing(req: &Request, state: Data<&Arc<State>>, q: Query<DoneQuery>) -> Response {
    let owner = match owner(req, &state) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let (wanted, published) = match state.store.catalog_state().await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let builds = match state.store.recent_builds(20).await {
        Ok(b) => b,
        Err(e) => return failed(e),
    };
    let products = current_catalog(&state).await.unwrap_or_default();
    let mut page = Page::new("publishing.html", "Publishing", Some(&owner));
    page.insert("wanted", &wanted);
    page.insert("published", &published);
    page.insert("up_to_date", &(published >= wanted));
    page.insert("builds", &pages::builds(&builds));
    page.insert(
        "products",
        &pages::rows(&products, settings(&state).as_ref()),
    );
    page.flash(q.done.as_deref(), &BTreeMap::new());
    page.render(StatusCode::OK)
}

#[handler]
fn rebuild(req: &Request, state: Data<&Arc<State>>, form: Form<CsrfForm>) -> Response {
    if let Err(r) = owner_with_csrf(req, &state, &form.csrf) {
        return *r;
    }
    state.request_rebuild();
    redirect("/admin/publishing?done=rebuild")
}

#[handler]
async fn export(req: &Request, state: Data<&Arc<State>>) -> Response {
    if let Err(r) = owner(req, &state) {
        return *r;
    }
    let mut all = match current_catalog(&state).await {
        Ok(found) => found,
        Err(e) => return failed(e),
    };
    all.sort_by_key(|r| r.product_id);
    Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"products.csv\"",
        )
        .body(csv::export(&all))
}

#[handler]
fn import_page(req: &Request, state: Data<&Arc<State>>) -> Response {
    let owner = match owner(req, &state) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    Page::new("import.html", "Import CSV", Some(&owner)).render(StatusCode::OK)
}

#[handler]
async fn import_check(
    req: &Request,
    state: Data<&Arc<State>>,
    mut multipart: Multipart,
) -> Response {
    let mut csrf = String::new();
    let mut text = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let Ok(bytes) = field.bytes().await else {
                    return pages::error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "The upload could not be read.",
                    );
                };
                match name.as_str() {
                    "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
                    "csv" if !bytes.is_empty() => match String::from_utf8(bytes) {
                        Ok(t) => text = Some(t),
                        Err(_) => {
                            return pages::error(
                                StatusCode::UNPROCESSABLE_ENTITY,
                                "The file is not UTF-8 text; save it as CSV (UTF-8) and try again.",
                            );
                        }
                    },
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => {
                return pages::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("The upload could not be read: {e}"),
                );
            }
        }
    }
    let owner = match owner_with_csrf(req, &state, &csrf) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let Some(text) = text else {
        let mut page = Page::new("import.html", "Import CSV", Some(&owner));
        page.insert("errors", &["Choose a CSV file to import."]);
        return page.render(StatusCode::UNPROCESSABLE_ENTITY);
    };
    import_preview(&state, &owner, &text).await
}

async fn import_preview(state: &State, owner: &Owner, text: &str) -> Response {
    let current = match current_catalog(state).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut page = Page::new("import.html", "Import CSV", Some(owner));
    match csv::check(text, &current) {
        Ok(preview) => {
            page.insert("csv", text);
            page.insert("rows", &pages::import_rows(&preview));
            page.insert("creates", &preview.count(csv::Action::Create));
            page.insert("updates", &preview.count(csv::Action::Update));
            page.insert("unchanged", &preview.count(csv::Action::Unchanged));
            page.render(StatusCode::OK)
        }
        Err(errors) => {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            page.insert("errors", &errors);
            page.render(StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Deserialize)]
struct ApplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    csv: String,
}

#[handler]
async fn import_apply(req: &Request, state: Data<&Arc<State>>, form: Form<ApplyForm>) -> Response {
    let owner = match owner_with_csrf(req, &state, &form.csrf) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let current = match current_catalog(&state).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let text = form.csv.replace("\r\n", "\n");
    let preview = match csv::check(&text, &current) {
        Ok(p) => p,
        // The catalog changed since the preview in a way that makes a row bad.
        Err(_) => return import_preview(&state, &owner, &text).await,
    };
    match state
        .store
        .apply_import(&owner.user.email, &preview.plan)
        .await
    {
        Ok(()) => {
            state.catalog_written();
            redirect(&format!(
                "/admin/products?done=imported&created={}&updated={}&unchanged={}",
                preview.count(csv::Action::Create),
                preview.count(csv::Action::Update),
                preview.count(csv::Action::Unchanged)
            ))
        }
        Err(ApiError::PreconditionFailed(_) | ApiError::Conflict(_) | ApiError::NotFound(_)) => {
            let mut page = Page::new("import.html", "Import CSV", Some(&owner));
            page.insert(
                "errors",
                &["The catalog changed while you looked at the preview, and nothing was imported. Upload the file again to see what it would do now."],
            );
            page.render(StatusCode::PRECONDITION_FAILED)
        }
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
struct PreviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    markdown: String,
}

/// The description as the storefront will show it: the same renderer and
/// sanitizer.
#[handler]
fn markdown_preview(req: &Request, state: Data<&Arc<State>>, form: Form<PreviewForm>) -> Response {
    if let Err(r) = owner_with_csrf(req, &state, &form.csrf) {
        return *r;
    }
    Response::builder()
        .content_type("text/html; charset=utf-8")
        .body(render::markdown::to_safe_html(&form.markdown))
}

#[handler]
async fn image_file(req: &Request, state: Data<&Arc<State>>, file: Path<String>) -> Response {
    if let Err(r) = owner(req, &state) {
        return *r;
    }
    let name = file.0;
    let content_type = render::site::content_type_for(&name);
    if !content_type.starts_with("image/") {
        return pages::error(StatusCode::NOT_FOUND, "There is no such image.");
    }
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !plain {
        return pages::error(StatusCode::NOT_FOUND, "There is no such image.");
    }
    match state.store.image(&name, &state.content_dir).await {
        Ok(Some(bytes)) => Response::builder()
            .content_type(content_type)
            // SVG can carry script; as an image it cannot run, and never as a page.
            .header(
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            )
            .body(bytes),
        Ok(None) => pages::error(StatusCode::NOT_FOUND, "There is no such image."),
        Err(e) => failed(e),
    }
}

#[handler]
fn asset(file: Path<String>) -> Response {
    let body = match file.0.as_str() {
        "admin.css" => include_str!("../../assets/admin.css"),
        "admin.js" => include_str!("../../assets/admin.js"),
        _ => return pages::error(StatusCode::NOT_FOUND, "There is no such file."),
    };
    Response::builder()
        .content_type(render::site::content_type_for(&file.0))
        .body(body)
}
