//! `sitemap.xml`: every page a search engine should know, with when it last
//! changed.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use catalog::Catalog;

use crate::escape::xml_escape;
use crate::{urls, views};

/// `sitemap.xml`, or a sitemap index plus parts when there are more than
/// 50,000 URLs.
pub(crate) fn sitemaps(catalog: &Catalog) -> Vec<(String, Vec<u8>)> {
    let s = &catalog.settings;
    let newest = |indexes: &mut dyn Iterator<Item = usize>| {
        indexes.map(|i| catalog.products[i].updated_at).max()
    };
    let mut entries: Vec<(String, Option<DateTime<Utc>>)> = Vec::new();
    let all_newest = newest(&mut (0..catalog.products.len()));
    for page in 1..=views::page_count(catalog.products.len(), s.products_per_page) {
        entries.push((urls::home(page), all_newest));
    }
    for c in &catalog.categories {
        let lastmod = newest(&mut c.products.iter().copied());
        for page in 1..=views::page_count(c.products.len(), s.products_per_page) {
            entries.push((urls::category(&c.slug, page), lastmod));
        }
    }
    for p in &catalog.products {
        entries.push((urls::product(&p.slug), Some(p.updated_at)));
    }
    entries.push((urls::SEARCH.to_owned(), None));

    let urlset = |chunk: &[(String, Option<DateTime<Utc>>)]| {
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        for (url, lastmod) in chunk {
            let _ = write!(
                xml,
                "<url><loc>{}</loc>",
                xml_escape(&urls::absolute(&s.base_url, url))
            );
            if let Some(t) = lastmod {
                let _ = write!(xml, "<lastmod>{}</lastmod>", views::timestamp(t));
            }
            xml.push_str("</url>\n");
        }
        xml.push_str("</urlset>\n");
        xml.into_bytes()
    };
    if entries.len() <= urls::SITEMAP_MAX_URLS {
        return vec![(urls::key_for(urls::SITEMAP), urlset(&entries))];
    }
    let mut out = Vec::new();
    let mut index = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (i, chunk) in entries.chunks(urls::SITEMAP_MAX_URLS).enumerate() {
        let url = urls::sitemap_part(i + 1);
        let _ = writeln!(
            index,
            "<sitemap><loc>{}</loc></sitemap>",
            xml_escape(&urls::absolute(&s.base_url, &url))
        );
        out.push((urls::key_for(&url), urlset(chunk)));
    }
    index.push_str("</sitemapindex>\n");
    out.push((urls::key_for(urls::SITEMAP), index.into_bytes()));
    out
}
