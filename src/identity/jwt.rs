//! Buyers vouched for by the venue's own app or identity provider (`--buyer-auth jwt`): a JWT
//! in `Authorization: Bearer`, verified with the `jsonwebtoken` crate.
//!
//! What a token must be to pass:
//! - signed with the one configured key, by the one algorithm that key is for: HS256 for
//!   `--buyer-jwt-secret`, RS256 or ES256 (P-256) for `--buyer-jwt-public-key`. A token naming
//!   any other algorithm is refused before its signature is looked at, so `alg: none` and an
//!   HS256 token "signed" with the public key both fail;
//! - with `exp` in the future and `nbf`, when present, in the past (both with 30 seconds of
//!   leeway for clocks that differ), and `iss` and `aud` as configured;
//! - with a `sub` of 1 to 255 characters: the buyer. `name` and `email` are taken when the
//!   user is first made, and only when they are valid.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::Timestamp;
use crate::domain::error::{Error, Result};

/// Longest `sub` accepted.
pub const MAX_SUBJECT_LEN: usize = 255;
/// Longest token looked at: far more than any real one, far less than a header can carry.
pub const MAX_JWT_LEN: usize = 8 * 1024;
/// Seconds a clock may be ahead or behind.
const LEEWAY_SECS: u64 = 30;

/// The key JWTs are checked with, as configured.
#[derive(Clone)]
pub enum JwtKey {
    /// `--buyer-jwt-secret`: HS256.
    Secret(SecretString),
    /// `--buyer-jwt-public-key`: the PEM text of an RSA or P-256 public key.
    PublicKey(Vec<u8>),
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtKey::Secret(secret) => f.debug_tuple("Secret").field(secret).finish(),
            JwtKey::PublicKey(_) => f.write_str("PublicKey(..)"),
        }
    }
}

/// What `--buyer-auth jwt` was configured with.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub key: JwtKey,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// The claims boxoffice reads.
#[derive(Debug, Clone, Deserialize)]
pub struct BuyerClaims {
    pub sub: String,
    /// Expiry, in seconds since the Unix epoch (a JSON number, maybe with a fraction).
    pub exp: f64,
    /// Not before, in seconds since the Unix epoch.
    #[serde(default)]
    pub nbf: Option<f64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// Verifies buyer JWTs against one key.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl JwtVerifier {
    /// The verifier of `settings`; the error says which flag is wrong and why.
    pub fn new(settings: &JwtSettings) -> anyhow::Result<JwtVerifier> {
        let (key, algorithm) = match &settings.key {
            JwtKey::Secret(secret) => (
                DecodingKey::from_secret(secret.expose_secret().as_bytes())
                    .map_err(|e| anyhow::anyhow!("--buyer-jwt-secret is not usable: {e}"))?,
                Algorithm::HS256,
            ),
            JwtKey::PublicKey(pem) => public_key(pem)?,
        };
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        // `exp` and `nbf` are checked against the app's clock, in `verify`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &settings.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                validation.required_spec_claims.insert("iss".into());
            }
            None => validation.iss = None,
        }
        match &settings.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        Ok(JwtVerifier { key, validation })
    }

    /// The claims of a token that passes every check at `now`; `Unauthenticated` saying which
    /// failed.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<BuyerClaims> {
        if token.len() > MAX_JWT_LEN {
            return Err(refused("it is too long"));
        }
        let data = jsonwebtoken::decode::<BuyerClaims>(token, &self.key, &self.validation)
            .map_err(|err| {
                use jsonwebtoken::errors::ErrorKind as K;
                refused(match err.kind() {
                    K::ExpiredSignature => "it has expired",
                    K::ImmatureSignature => "it is not valid yet",
                    K::InvalidAudience => "it is for another audience",
                    K::InvalidIssuer => "it is from another issuer",
                    K::InvalidAlgorithm => "it is signed with another algorithm",
                    K::InvalidSignature => "its signature is wrong",
                    K::MissingRequiredClaim(_) => "it lacks a required claim (exp, sub, iss, aud)",
                    _ => "it is malformed",
                })
            })?;
        let claims = data.claims;
        let (now, leeway) = (now.timestamp() as f64, LEEWAY_SECS as f64);
        if claims.exp + leeway <= now {
            return Err(refused("it has expired"));
        }
        if claims.nbf.is_some_and(|nbf| nbf - leeway > now) {
            return Err(refused("it is not valid yet"));
        }
        let len = claims.sub.chars().count();
        if len == 0 || len > MAX_SUBJECT_LEN || claims.sub.chars().any(char::is_control) {
            return Err(refused("its sub is empty, too long or not plain text"));
        }
        Ok(claims)
    }
}

fn refused(why: &str) -> Error {
    Error::Unauthenticated(format!("the buyer JWT is refused: {why}"))
}

/// An RSA key is for RS256; an EC key must be on P-256, for ES256.
fn public_key(pem: &[u8]) -> anyhow::Result<(DecodingKey, Algorithm)> {
    // The crate would take the public half of a private key; a server that only verifies has
    // no business holding one.
    if String::from_utf8_lossy(pem).contains("PRIVATE KEY") {
        anyhow::bail!(
            "--buyer-jwt-public-key holds a private key: give the public key only (openssl pkey -pubout)"
        );
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((key, Algorithm::RS256));
    }
    let key = DecodingKey::from_ec_pem(pem).map_err(|_| {
        anyhow::anyhow!(
            "--buyer-jwt-public-key is not a PEM public key (RSA for RS256, or EC P-256 for ES256)"
        )
    })?;
    // An uncompressed P-256 point is 65 bytes; P-384's is 97.
    match key.try_get_as_bytes() {
        Ok(point) if point.len() == 65 => Ok((key, Algorithm::ES256)),
        _ => anyhow::bail!(
            "--buyer-jwt-public-key is an EC key on another curve: only P-256 (ES256) is taken"
        ),
    }
}
