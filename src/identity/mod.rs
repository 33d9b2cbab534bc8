//! Who a buyer is (`--buyer-auth`):
//! - `accounts`: boxoffice's own buyer accounts. A buyer signs up with an email and a password
//!   ([`password`]) and signs in for a session token ([`session`]) that lasts
//!   `--buyer-session-ttl` or until they sign out.
//! - `jwt`: the venue's app or identity provider signs a JWT for the buyer ([`jwt`]); its
//!   `sub` is the buyer, made a user on first sight.
//! - `open`: nobody proves anything and the `userId` a request names is believed, as in the
//!   seed service. For load tests and old clients only.
//!
//! Either credential goes in `Authorization: Bearer`. [`Identity::buyer`] turns it into the
//! user it stands for, or refuses it; every buyer endpoint then acts for that user alone.

pub mod jwt;
pub mod password;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::domain::account::Password;
use crate::domain::catalog::MAX_TEXT_LEN as MAX_NAME_LEN;
use crate::domain::error::{Error, Result};
use crate::domain::text::{Email, checked_text};
use crate::domain::{Timestamp, UserId};
use crate::store::{NewSession, Store, User};
use jwt::{JwtSettings, JwtVerifier};

/// How a buyer proves who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BuyerAuthMode {
    /// boxoffice's own accounts: sign up, sign in, a session token.
    #[default]
    Accounts,
    /// A JWT from the venue's identity provider.
    Jwt,
    /// No proof: the `userId` of the request is believed.
    Open,
}

impl BuyerAuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BuyerAuthMode::Accounts => "accounts",
            BuyerAuthMode::Jwt => "jwt",
            BuyerAuthMode::Open => "open",
        }
    }
}

/// A session just made by a sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Given to the buyer once; only its hash is kept.
    pub token: String,
    pub user_id: UserId,
    pub expires_at: Timestamp,
}

/// Proves buyers' identities in the configured mode.
pub struct Identity {
    mode: BuyerAuthMode,
    store: Arc<dyn Store>,
    jwt: Option<JwtVerifier>,
    session_ttl: chrono::Duration,
    /// What an unknown address's sign-in is checked against (see [`password::decoy`]).
    decoy: Option<String>,
    /// The user of each JWT subject seen lately: it never changes once made.
    subjects: moka::sync::Cache<String, UserId>,
}

impl Identity {
    /// The identity service of `mode`; `jwt` is required in `jwt` mode.
    pub fn new(
        mode: BuyerAuthMode,
        jwt: Option<&JwtSettings>,
        session_ttl: Duration,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Identity> {
        let jwt = match (mode, jwt) {
            (BuyerAuthMode::Jwt, Some(settings)) => Some(JwtVerifier::new(settings)?),
            (BuyerAuthMode::Jwt, None) => {
                anyhow::bail!("--buyer-auth jwt needs --buyer-jwt-secret or --buyer-jwt-public-key")
            }
            _ => None,
        };
        let decoy = match mode {
            BuyerAuthMode::Accounts => Some(password::decoy()?),
            _ => None,
        };
        Ok(Identity {
            mode,
            store,
            jwt,
            session_ttl: chrono::Duration::from_std(session_ttl)?,
            decoy,
            subjects: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(60 * 60))
                .build(),
        })
    }

    pub fn mode(&self) -> BuyerAuthMode {
        self.mode
    }

    /// The buyer `bearer` (a session token or a JWT, as the mode has it) stands for at `now`.
    pub async fn buyer(&self, bearer: &str, now: Timestamp) -> Result<UserId> {
        match self.mode {
            BuyerAuthMode::Accounts => {
                let unknown = || {
                    Error::Unauthenticated(
                        "unknown, expired or signed-out session: sign in again".into(),
                    )
                };
                let hash = session::parse(bearer).ok_or_else(unknown)?;
                self.store
                    .session_user(hash, now)
                    .await?
                    .ok_or_else(unknown)
            }
            BuyerAuthMode::Jwt => {
                let verifier = self
                    .jwt
                    .as_ref()
                    .ok_or_else(|| Error::internal("no JWT key"))?;
                let claims = verifier.verify(bearer, now)?;
                if let Some(user) = self.subjects.get(&claims.sub) {
                    return Ok(user);
                }
                // A name pages can show: the claim's, else the sub's, else a plain word.
                let shown = |text: &str| checked_text("name", text, MAX_NAME_LEN).ok();
                let name = claims
                    .name
                    .as_deref()
                    .and_then(shown)
                    .or_else(|| shown(&claims.sub))
                    .unwrap_or_else(|| "buyer".to_owned());
                let email = claims.email.as_deref().and_then(|e| Email::parse(e).ok());
                let user = self
                    .store
                    .subject_user(&claims.sub, &name, email.as_ref(), now)
                    .await?;
                self.subjects.insert(claims.sub, user.id);
                Ok(user.id)
            }
            BuyerAuthMode::Open => Err(Error::Unauthenticated(
                "this server takes no buyer credentials (--buyer-auth open): name the userId"
                    .into(),
            )),
        }
    }

    /// A new buyer account with a password, made at `now`.
    pub async fn sign_up(
        &self,
        name: &str,
        email: &Email,
        password: Password,
        now: Timestamp,
    ) -> Result<User> {
        self.require_accounts()?;
        let name = checked_text("name", name, MAX_NAME_LEN)?;
        let hash = password::hash(password).await?;
        self.store
            .create_account(&name, email, Some(&hash), now)
            .await
    }

    /// A session for the account of `email` when `password` is its password.
    /// `WrongCredentials` for an unknown address or a wrong password alike, after the same
    /// work: an unknown address is checked against a decoy hash.
    pub async fn sign_in(
        &self,
        email: &Email,
        password: Password,
        now: Timestamp,
    ) -> Result<SignedIn> {
        self.require_accounts()?;
        let credentials = self.store.credentials(email).await?;
        let (user, hash) = match credentials {
            Some(c) => (Some(c.user_id), c.password_hash),
            None => (None, self.decoy.clone().unwrap_or_default()),
        };
        let matches = password::verify(password, hash).await?;
        let user = match (user, matches) {
            (Some(user), true) => user,
            _ => return Err(Error::WrongCredentials),
        };
        let (token, token_hash) = session::generate();
        let expires_at = now + self.session_ttl;
        self.store
            .create_session(NewSession {
                token_hash,
                user_id: user,
                created_at: now,
                expires_at,
            })
            .await?;
        Ok(SignedIn {
            token,
            user_id: user,
            expires_at,
        })
    }

    /// Ends the session of the token `bearer`; `Unauthenticated` when there is none.
    pub async fn sign_out(&self, bearer: &str) -> Result<()> {
        self.require_accounts()?;
        let gone = || Error::Unauthenticated("unknown or already signed-out session".into());
        let hash = session::parse(bearer).ok_or_else(gone)?;
        if self.store.end_buyer_session(hash).await? {
            Ok(())
        } else {
            Err(gone())
        }
    }

    /// The hash of a password for an account the admin API makes.
    pub async fn hash_password(&self, password: Password) -> Result<String> {
        password::hash(password).await
    }

    fn require_accounts(&self) -> Result<()> {
        if self.mode == BuyerAuthMode::Accounts {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "buyer accounts are off: this server runs with --buyer-auth {}",
                self.mode.as_str()
            )))
        }
    }
}
