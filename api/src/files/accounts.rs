//! Admin users and API tokens, in `accounts.json` in the state folder
//! (rewritten atomically on every change, readable by its owner alone). A new
//! password, or removing the user, ends the user's sessions.

use serde::{Deserialize, Serialize};

use super::{Files, FilesError};

impl Files {
    fn read_accounts(&self) -> Result<Accounts, FilesError> {
        match std::fs::read(&self.accounts) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| FilesError::Accounts {
                path: self.accounts.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Accounts::default()),
            Err(source) => Err(FilesError::Io {
                action: "read",
                path: self.accounts.clone(),
                source,
            }),
        }
    }

    fn write_accounts(&self, accounts: &Accounts) -> Result<(), FilesError> {
        let io = |action| {
            move |source| FilesError::Io {
                action,
                path: self.accounts.clone(),
                source,
            }
        };
        self.create_state_dir()?;
        let json = serde_json::to_vec_pretty(accounts).unwrap_or_default();
        // Password hashes and token digests: 0600 from the file's creation.
        content::write_atomically_private(&self.accounts, &json).map_err(io("write"))
    }

    pub fn create_user(&self, email: &str, password_hash: &str) -> Result<i64, FilesError> {
        let mut accounts = self.read_accounts()?;
        if accounts.users.iter().any(|u| u.email == email) {
            return Err(FilesError::UserExists(email.to_owned()));
        }
        // Never an id a removed user had: a session or token left behind by
        // one must not become another's.
        let user_id = (accounts.users.iter().map(|u| u.user_id).max().unwrap_or(0) + 1)
            .max(accounts.next_user_id);
        accounts.next_user_id = user_id + 1;
        accounts.users.push(UserEntry {
            user_id,
            email: email.to_owned(),
            password_hash: password_hash.to_owned(),
        });
        self.write_accounts(&accounts)?;
        Ok(user_id)
    }

    pub fn set_password(&self, email: &str, password_hash: &str) -> Result<(), FilesError> {
        let mut accounts = self.read_accounts()?;
        let user = accounts
            .users
            .iter_mut()
            .find(|u| u.email == email)
            .ok_or_else(|| FilesError::NoSuchUser(email.to_owned()))?;
        password_hash.clone_into(&mut user.password_hash);
        let user_id = user.user_id;
        self.write_accounts(&accounts)?;
        self.end_sessions(user_id, None, None).map(|_| ())
    }

    /// Removes a user, with their tokens and sessions.
    pub fn remove_user(&self, email: &str) -> Result<(), FilesError> {
        let mut accounts = self.read_accounts()?;
        let user_id = accounts.user_id(email)?;
        accounts.users.retain(|u| u.user_id != user_id);
        accounts.tokens.retain(|t| t.user_id != user_id);
        self.write_accounts(&accounts)?;
        self.end_sessions(user_id, None, None).map(|_| ())
    }

    /// `(user_id, email, password_hash)`.
    pub fn user_by_id(&self, user_id: i64) -> Result<Option<(i64, String, String)>, FilesError> {
        Ok(self
            .read_accounts()?
            .users
            .into_iter()
            .find(|u| u.user_id == user_id)
            .map(|u| (u.user_id, u.email, u.password_hash)))
    }

    /// `(user_id, email, password_hash)`.
    pub fn user_by_email(&self, email: &str) -> Result<Option<(i64, String, String)>, FilesError> {
        Ok(self
            .read_accounts()?
            .users
            .into_iter()
            .find(|u| u.email == email)
            .map(|u| (u.user_id, u.email, u.password_hash)))
    }

    pub fn create_token(&self, email: &str, name: &str, sha256: &[u8]) -> Result<i64, FilesError> {
        let mut accounts = self.read_accounts()?;
        let user_id = accounts.user_id(email)?;
        let token_id = accounts
            .tokens
            .iter()
            .map(|t| t.token_id)
            .max()
            .unwrap_or(0)
            + 1;
        accounts.tokens.push(TokenEntry {
            token_id,
            user_id,
            name: name.to_owned(),
            sha256: catalog::hex(sha256),
            revoked: false,
        });
        self.write_accounts(&accounts)?;
        Ok(token_id)
    }

    pub fn user_for_token(&self, sha256: &[u8]) -> Result<Option<(i64, String)>, FilesError> {
        let accounts = self.read_accounts()?;
        let digest = catalog::hex(sha256);
        Ok(accounts
            .tokens
            .iter()
            .find(|t| !t.revoked && t.sha256 == digest)
            .and_then(|t| accounts.users.iter().find(|u| u.user_id == t.user_id))
            .map(|u| (u.user_id, u.email.clone())))
    }

    pub fn revoke_token(&self, token_id: i64) -> Result<bool, FilesError> {
        let mut accounts = self.read_accounts()?;
        let Some(token) = accounts
            .tokens
            .iter_mut()
            .find(|t| t.token_id == token_id && !t.revoked)
        else {
            return Ok(false);
        };
        token.revoked = true;
        self.write_accounts(&accounts)?;
        Ok(true)
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Accounts {
    users: Vec<UserEntry>,
    tokens: Vec<TokenEntry>,
    /// The next user's id (absent in files written before it was kept).
    #[serde(default)]
    next_user_id: i64,
}

impl Accounts {
    fn user_id(&self, email: &str) -> Result<i64, FilesError> {
        self.users
            .iter()
            .find(|u| u.email == email)
            .map(|u| u.user_id)
            .ok_or_else(|| FilesError::NoSuchUser(email.to_owned()))
    }
}

#[derive(Serialize, Deserialize)]
struct UserEntry {
    user_id: i64,
    email: String,
    password_hash: String,
}

#[derive(Serialize, Deserialize)]
struct TokenEntry {
    token_id: i64,
    user_id: i64,
    name: String,
    /// Hex SHA-256 of the token.
    sha256: String,
    revoked: bool,
}

#[cfg(test)]
mod tests {
    use super::super::testing::Shop;
    use super::*;

    const EMAIL: &str = "owner@shop.example";

    #[test]
    fn users_are_created_once_and_kept_in_the_state_folder() {
        let shop = Shop::new();
        assert_eq!(shop.files.user_by_email(EMAIL).unwrap(), None);
        assert_eq!(shop.files.create_user(EMAIL, "hash-1").unwrap(), 1);
        assert!(matches!(
            shop.files.create_user(EMAIL, "hash-2"),
            Err(FilesError::UserExists(e)) if e == EMAIL
        ));
        assert_eq!(
            shop.files
                .create_user("clerk@shop.example", "hash-3")
                .unwrap(),
            2
        );

        shop.files.set_password(EMAIL, "hash-4").unwrap();
        assert!(matches!(
            shop.files.set_password("nobody@shop.example", "x"),
            Err(FilesError::NoSuchUser(_))
        ));
        // Another process on the same folder sees the same accounts.
        let again = Files::new(shop.files.content_dir(), &shop.state);
        assert_eq!(
            again.user_by_email(EMAIL).unwrap(),
            Some((1, EMAIL.to_owned(), "hash-4".to_owned()))
        );
        assert!(shop.state.join("accounts.json").is_file());
    }

    #[test]
    fn tokens_are_found_by_their_digest_until_revoked() {
        let shop = Shop::new();
        let digest = [7u8; 32];
        assert!(matches!(
            shop.files.create_token(EMAIL, "script", &digest),
            Err(FilesError::NoSuchUser(_))
        ));
        let user_id = shop.files.create_user(EMAIL, "hash").unwrap();
        assert_eq!(
            shop.files.create_token(EMAIL, "script", &digest).unwrap(),
            1
        );
        assert_eq!(shop.files.create_token(EMAIL, "ci", &[8u8; 32]).unwrap(), 2);

        assert_eq!(
            shop.files.user_for_token(&digest).unwrap(),
            Some((user_id, EMAIL.to_owned()))
        );
        assert_eq!(shop.files.user_for_token(&[9u8; 32]).unwrap(), None);

        assert!(shop.files.revoke_token(1).unwrap());
        assert!(!shop.files.revoke_token(1).unwrap(), "already revoked");
        assert!(!shop.files.revoke_token(99).unwrap(), "no such token");
        assert_eq!(shop.files.user_for_token(&digest).unwrap(), None);
        assert!(shop.files.user_for_token(&[8u8; 32]).unwrap().is_some());
    }

    #[cfg(unix)]
    #[test]
    fn the_accounts_and_their_folder_are_the_owner_s_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let shop = Shop::new();
        let accounts = shop.state.join("accounts.json");
        shop.files.create_user(EMAIL, "hash-1").unwrap();
        assert_eq!(mode(&accounts), 0o600);
        assert_eq!(mode(&shop.state), 0o700, "the folder it created");

        // A file written before was readable by all; its next write is not.
        std::fs::set_permissions(&accounts, std::fs::Permissions::from_mode(0o644)).unwrap();
        shop.files.set_password(EMAIL, "hash-2").unwrap();
        assert_eq!(mode(&accounts), 0o600);
        assert_eq!(
            shop.files.user_by_email(EMAIL).unwrap(),
            Some((1, EMAIL.to_owned(), "hash-2".to_owned()))
        );
        let names: Vec<_> = std::fs::read_dir(&shop.state)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["accounts.json"], "no temporary file is left");
    }

    #[test]
    fn a_broken_accounts_file_is_named() {
        let shop = Shop::new();
        std::fs::create_dir_all(&shop.state).unwrap();
        std::fs::write(shop.state.join("accounts.json"), "{not json").unwrap();
        let e = shop.files.user_by_email(EMAIL).unwrap_err();
        assert!(matches!(e, FilesError::Accounts { .. }));
        assert!(e.to_string().contains("accounts.json is not valid"), "{e}");
    }
}
