//! Browser sessions, in `sessions.json` in the state folder, and login
//! attempts, in memory.
//!
//! The file is rewritten atomically, under an exclusive lock on
//! `sessions.lock`, by the server and by `api admin set-password` and
//! `remove-user` alike, so a change by one is never lost to the other's
//! write. Every check reads it (and the accounts), so a session ended by the
//! command line is refused at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::admin::{NewSession, SessionRow};

use super::{Files, FilesError};

/// A session's last use is written at most this often.
const SEEN_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

#[derive(Default, Serialize, Deserialize)]
struct SessionsFile {
    sessions: Vec<SessionEntry>,
}

#[derive(Clone, Serialize, Deserialize)]
struct SessionEntry {
    /// Hex SHA-256 of the session's token.
    sha256: String,
    user_id: i64,
    /// The user's address when the session began: a user id given again to
    /// another user does not inherit it.
    email: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    address: Option<String>,
    user_agent: Option<String>,
}

/// Login attempts per key: when its window began, how long it is, the
/// count; and when they were last pruned.
#[derive(Default)]
pub(super) struct Attempts {
    keys: HashMap<String, (Instant, Duration, i64)>,
    pruned: Option<Instant>,
}

/// Keys kept at most; an attempt under a new key beyond them counts as over
/// every limit, so a flood of addresses costs bounded memory.
const MAX_KEYS: usize = 200_000;
/// Windows that have passed are forgotten at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

impl Attempts {
    fn prune(&mut self, force: bool) {
        if force || self.pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            self.keys
                .retain(|_, (start, window, _)| start.elapsed() < *window);
            self.pruned = Some(Instant::now());
        }
    }
}

impl Files {
    fn sessions_io(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> FilesError + '_ {
        move |source| FilesError::Io {
            action,
            path: self.sessions.clone(),
            source,
        }
    }

    fn read_sessions(&self) -> Result<SessionsFile, FilesError> {
        match std::fs::read(&self.sessions) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| FilesError::Accounts {
                path: self.sessions.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SessionsFile::default()),
            Err(e) => Err(self.sessions_io("read")(e)),
        }
    }

    /// Reads, changes and rewrites the sessions under the lock; `change`
    /// says whether it changed anything.
    fn change_sessions<T>(
        &self,
        change: impl FnOnce(&mut Vec<SessionEntry>) -> (bool, T),
    ) -> Result<T, FilesError> {
        self.create_state_dir()?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.state.join("sessions.lock"))
            .map_err(self.sessions_io("lock"))?;
        lock.lock().map_err(self.sessions_io("lock"))?;
        let mut file = self.read_sessions()?;
        let now = Utc::now();
        let before = file.sessions.len();
        file.sessions.retain(|s| s.expires_at > now);
        let (changed, answer) = change(&mut file.sessions);
        if changed || file.sessions.len() != before {
            let json = serde_json::to_vec_pretty(&file).unwrap_or_default();
            // Which sessions are live: 0600 from the file's creation.
            content::write_atomically_private(&self.sessions, &json)
                .map_err(self.sessions_io("write"))?;
        }
        Ok(answer)
    }

    /// Keeps a new session if the user's password is still the one the
    /// login checked: read under the lock, which `set_password` takes to end
    /// sessions after it wrote the new hash.
    pub fn create_session(&self, session: &NewSession<'_>) -> Result<bool, FilesError> {
        let now = Utc::now();
        let clip = |t: Option<&str>, max: usize| t.map(|t| t.chars().take(max).collect());
        let mut entry = SessionEntry {
            sha256: catalog::hex(session.sha256),
            user_id: session.user_id,
            email: String::new(),
            created_at: now,
            last_seen_at: now,
            expires_at: session.expires_at,
            address: clip(session.address, 64),
            user_agent: clip(session.user_agent, 300),
        };
        self.change_sessions(|sessions| match self.user_by_id(session.user_id) {
            Ok(Some((_, email, hash))) if hash == session.password_hash => {
                entry.email = email;
                sessions.push(entry);
                (true, Ok(true))
            }
            Ok(_) => (false, Ok(false)),
            Err(e) => (false, Err(e)),
        })?
    }

    /// The user of a live session whose account still exists.
    pub fn session_user(&self, sha256: &[u8]) -> Result<Option<(i64, String)>, FilesError> {
        let digest = catalog::hex(sha256);
        let now = Utc::now();
        let Some(entry) = self
            .read_sessions()?
            .sessions
            .into_iter()
            .find(|s| s.sha256 == digest && s.expires_at > now)
        else {
            return Ok(None);
        };
        let Some((user_id, email, _)) = self
            .user_by_id(entry.user_id)?
            .filter(|(_, email, _)| *email == entry.email)
        else {
            return Ok(None);
        };
        let user = (user_id, email);
        if now - entry.last_seen_at > SEEN_EVERY {
            self.change_sessions(|sessions| {
                let seen = sessions.iter_mut().find(|s| s.sha256 == digest);
                let changed = seen.is_some();
                if let Some(s) = seen {
                    s.last_seen_at = now;
                }
                (changed, ())
            })?;
        }
        Ok(Some(user))
    }

    pub fn sessions_of(&self, user_id: i64) -> Result<Vec<SessionRow>, FilesError> {
        let now = Utc::now();
        let mut rows: Vec<SessionRow> = self
            .read_sessions()?
            .sessions
            .into_iter()
            .filter(|s| s.user_id == user_id && s.expires_at > now)
            .map(|s| SessionRow {
                sha256: crate::session::unhex(&s.sha256),
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                address: s.address,
                user_agent: s.user_agent,
            })
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.last_seen_at));
        Ok(rows)
    }

    /// Ends the user's session `only`, or every one but `except`.
    pub fn end_sessions(
        &self,
        user_id: i64,
        only: Option<&[u8]>,
        except: Option<&[u8]>,
    ) -> Result<u64, FilesError> {
        if !self.sessions.exists() {
            return Ok(0);
        }
        let (only, except) = (only.map(catalog::hex), except.map(catalog::hex));
        self.change_sessions(|sessions| {
            let before = sessions.len();
            sessions.retain(|s| {
                let ends = s.user_id == user_id
                    && only.as_ref().is_none_or(|o| *o == s.sha256)
                    && except.as_ref().is_none_or(|e| *e != s.sha256);
                !ends
            });
            let ended = before - sessions.len();
            (ended > 0, ended as u64)
        })
    }

    /// Counts an attempt under each key of `hits`, and reads `peek`'s.
    pub fn count_attempts(&self, hits: &[(&str, Duration)], peek: &[&str]) -> Vec<(String, i64)> {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.prune(false);
        let mut counts = Vec::new();
        for (key, window) in hits {
            let full = attempts.keys.len() >= MAX_KEYS;
            let count = match attempts.keys.get_mut(*key) {
                Some(entry) if entry.0.elapsed() >= entry.1 => {
                    *entry = (Instant::now(), *window, 1);
                    1
                }
                Some(entry) => {
                    entry.2 += 1;
                    entry.2
                }
                None if full => i64::MAX,
                None => {
                    attempts
                        .keys
                        .insert((*key).to_owned(), (Instant::now(), *window, 1));
                    1
                }
            };
            counts.push(((*key).to_owned(), count));
        }
        for key in peek {
            if let Some((start, window, n)) = attempts.keys.get(*key)
                && start.elapsed() < *window
            {
                counts.push(((*key).to_owned(), *n));
            }
        }
        counts
    }

    pub fn prune_attempts(&self) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.prune(true);
    }

    pub fn forget_attempts(&self, keys: &[&str]) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            attempts.keys.remove(*key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Shop;
    use super::*;

    fn new_session(sha256: &[u8], user_id: i64) -> NewSession<'_> {
        NewSession {
            sha256,
            user_id,
            expires_at: Utc::now() + chrono::TimeDelta::hours(1),
            address: Some("192.0.2.7"),
            user_agent: Some("Firefox"),
            password_hash: "hash",
        }
    }

    #[test]
    fn sessions_live_until_ended_or_their_user_changes() {
        let shop = Shop::new();
        let files = &shop.files;
        let owner = files.create_user("owner@shop.example", "hash").unwrap();
        let clerk = files.create_user("clerk@shop.example", "hash").unwrap();
        for (digest, user) in [([1u8; 32], owner), ([2u8; 32], owner), ([3u8; 32], clerk)] {
            files.create_session(&new_session(&digest, user)).unwrap();
        }
        assert_eq!(
            files.session_user(&[1u8; 32]).unwrap(),
            Some((owner, "owner@shop.example".to_owned()))
        );
        assert_eq!(files.session_user(&[9u8; 32]).unwrap(), None);
        let listed = files.sessions_of(owner).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].address.as_deref(), Some("192.0.2.7"));

        // Everywhere else: the one kept stays.
        assert_eq!(
            files.end_sessions(owner, None, Some(&[1u8; 32])).unwrap(),
            1
        );
        assert_eq!(files.session_user(&[2u8; 32]).unwrap(), None);
        assert!(files.session_user(&[1u8; 32]).unwrap().is_some());
        // One.
        assert_eq!(
            files.end_sessions(owner, Some(&[1u8; 32]), None).unwrap(),
            1
        );
        assert_eq!(files.session_user(&[1u8; 32]).unwrap(), None);

        // A new password, and a removed user, end theirs.
        files
            .create_session(&new_session(&[4u8; 32], owner))
            .unwrap();
        files.set_password("owner@shop.example", "hash-2").unwrap();
        assert_eq!(files.session_user(&[4u8; 32]).unwrap(), None);
        files.remove_user("clerk@shop.example").unwrap();
        assert_eq!(files.session_user(&[3u8; 32]).unwrap(), None);
        assert!(files.sessions_of(clerk).unwrap().is_empty());

        // Its id is never given again, so nothing of the clerk's comes back.
        let next = files.create_user("new@shop.example", "hash").unwrap();
        assert_ne!(next, clerk);

        // A login that checked the old password keeps nothing.
        assert!(
            !files
                .create_session(&new_session(&[7u8; 32], owner))
                .unwrap()
        );
        assert_eq!(files.session_user(&[7u8; 32]).unwrap(), None);

        // Another process on the folder sees the same.
        let current = NewSession {
            password_hash: "hash-2",
            ..new_session(&[5u8; 32], owner)
        };
        assert!(files.create_session(&current).unwrap());
        let again = Files::new(files.content_dir(), &shop.state);
        assert!(again.session_user(&[5u8; 32]).unwrap().is_some());
        let expired = NewSession {
            sha256: &[6u8; 32],
            expires_at: Utc::now() - chrono::TimeDelta::seconds(1),
            ..current
        };
        files.create_session(&expired).unwrap();
        assert_eq!(files.session_user(&[6u8; 32]).unwrap(), None);
    }

    #[test]
    fn attempts_count_within_their_window() {
        let shop = Shop::new();
        let window = Duration::from_secs(60);
        let hit = |keys: &[&str]| {
            let hits: Vec<(&str, Duration)> = keys.iter().map(|k| (*k, window)).collect();
            shop.files.count_attempts(&hits, &["account:a"])
        };
        assert_eq!(
            hit(&["pair:a", "address:1"]),
            [("pair:a".into(), 1), ("address:1".into(), 1)]
        );
        assert_eq!(hit(&["pair:a"]), [("pair:a".into(), 2)]);
        shop.files.count_attempts(&[("account:a", window)], &[]);
        assert_eq!(
            hit(&["address:1"]),
            [("address:1".into(), 2), ("account:a".into(), 1)]
        );
        shop.files.forget_attempts(&["pair:a"]);
        assert_eq!(hit(&["pair:a"])[0], ("pair:a".into(), 1));
        assert_eq!(
            shop.files.count_attempts(&[("gone", Duration::ZERO)], &[])[0].1,
            1,
            "a window that has passed starts again"
        );
        assert_eq!(
            shop.files.count_attempts(&[("gone", Duration::ZERO)], &[])[0].1,
            1
        );
    }
}
