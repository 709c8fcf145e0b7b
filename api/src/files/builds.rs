//! The build history, in memory: a few hundred builds, for the publishing
//! page and `GET /api/rebuilds`.

use catalog::records::{BuildRecord, BuildRow};
use chrono::Utc;

use super::Files;

impl Files {
    /// Records a build that started now; its id.
    pub fn build_started(&self, trigger: &str) -> i64 {
        let mut builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        let build_id = builds.last().map_or(1, |b| b.build_id + 1);
        builds.push(BuildRow {
            build_id,
            started_at: Utc::now(),
            finished_at: None,
            trigger: trigger.to_owned(),
            catalog_version: None,
            source: Some("content".into()),
            pages_uploaded: None,
            pages_deleted: None,
            paths_invalidated: None,
            duration_ms: None,
            error: None,
        });
        // The history is for people; a few hundred builds is plenty.
        if builds.len() > 500 {
            builds.drain(..100);
        }
        build_id
    }

    /// Ends build `build_id` with what the rebuild recorded.
    pub fn build_finished(&self, build_id: i64, record: &BuildRecord) {
        let mut builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = builds.iter_mut().find(|b| b.build_id == build_id) {
            let now = Utc::now();
            b.finished_at = Some(now);
            b.duration_ms = Some((now - b.started_at).num_milliseconds());
            b.catalog_version = record.catalog_version;
            b.pages_uploaded = record.pages_uploaded;
            b.pages_deleted = record.pages_deleted;
            b.paths_invalidated = record.paths_invalidated;
            b.error.clone_from(&record.error);
        }
    }

    pub fn recent_builds(&self, limit: i64) -> Vec<BuildRow> {
        let builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        builds
            .iter()
            .rev()
            .take(usize::try_from(limit).unwrap_or(0))
            .cloned()
            .collect()
    }

    pub fn build(&self, build_id: i64) -> Option<BuildRow> {
        let builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        builds.iter().find(|b| b.build_id == build_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Shop;
    use super::*;

    #[test]
    fn a_build_is_recorded_when_it_starts_and_when_it_ends() {
        let shop = Shop::new();
        assert!(shop.files.recent_builds(10).is_empty());
        let first = shop.files.build_started("api");
        assert_eq!(first, 1);
        let running = shop.files.build(first).unwrap();
        assert_eq!(running.trigger, "api");
        assert_eq!(running.source.as_deref(), Some("content"));
        assert!(running.finished_at.is_none() && running.duration_ms.is_none());

        let record = BuildRecord {
            catalog_version: Some(3),
            pages_uploaded: Some(120),
            pages_deleted: Some(2),
            paths_invalidated: Some(5),
            ..BuildRecord::default()
        };
        shop.files.build_finished(first, &record);
        let done = shop.files.build(first).unwrap();
        assert!(done.finished_at.is_some_and(|at| at >= done.started_at));
        assert!(done.duration_ms.is_some_and(|ms| ms >= 0));
        assert_eq!(done.catalog_version, Some(3));
        assert_eq!(
            (
                done.pages_uploaded,
                done.pages_deleted,
                done.paths_invalidated
            ),
            (Some(120), Some(2), Some(5))
        );
        assert_eq!(done.error, None);

        let second = shop.files.build_started("notify");
        shop.files.build_finished(
            second,
            &BuildRecord {
                error: Some("the theme did not render".into()),
                ..BuildRecord::default()
            },
        );
        let recent = shop.files.recent_builds(10);
        let ids: Vec<i64> = recent.iter().map(|b| b.build_id).collect();
        assert_eq!(ids, [2, 1], "newest first");
        assert_eq!(recent[0].error.as_deref(), Some("the theme did not render"));
        assert_eq!(shop.files.recent_builds(1).len(), 1);
        assert!(shop.files.build(99).is_none());
    }

    #[test]
    fn the_history_keeps_the_latest_few_hundred() {
        let shop = Shop::new();
        for _ in 0..501 {
            shop.files.build_started("tick");
        }
        let recent = shop.files.recent_builds(1000);
        assert_eq!(recent.len(), 401);
        assert_eq!(recent[0].build_id, 501);
        assert!(shop.files.build(100).is_none());
        assert!(shop.files.build(101).is_some());
        assert_eq!(shop.files.build_started("tick"), 502);
    }

    #[test]
    fn the_catalog_version_counts_writes_and_publishes() {
        let shop = Shop::new();
        assert_eq!(
            shop.files.catalog_state(),
            (1, 0),
            "one build wanted at start"
        );
        shop.files.published(1);
        assert_eq!(shop.files.catalog_state(), (1, 1));
        shop.files.changed();
        shop.files.published(0);
        assert_eq!(shop.files.catalog_state(), (2, 1), "never backwards");
    }
}
