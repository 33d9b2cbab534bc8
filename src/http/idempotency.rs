//! The `Idempotency-Key` request header, read from its raw bytes.
//!
//! poem-openapi's `Header<Option<String>>` skips a header value that is not visible ASCII as
//! if it had not been sent, so a retry keyed `café-2` ran a second time and moved the money
//! twice. [`IdempotencyKeyHeader`] sees every value as sent: a key is either honoured, or
//! refused with 400 before anything runs.

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaParamIn, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::error::ApiError;
use crate::domain::idempotency::IdempotencyKey;

/// The header's name.
pub const HEADER: &str = "Idempotency-Key";

/// The key a request was sent with, if any: 1 to 255 visible ASCII characters, once.
#[derive(Debug, Clone)]
pub struct IdempotencyKeyHeader(pub Option<IdempotencyKey>);

impl IdempotencyKeyHeader {
    /// Reads the header of `request`: absent is `None`; several values, or one that is not a
    /// key, is refused.
    pub fn read(request: &Request) -> Result<Self, ApiError> {
        let mut values = request.headers().get_all(HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(IdempotencyKeyHeader(None));
        };
        if values.next().is_some() {
            return Err(ApiError::bad_request(format!(
                "send one {HEADER} header, not several"
            )));
        }
        let key = IdempotencyKey::parse_bytes(value.as_bytes())?;
        Ok(IdempotencyKeyHeader(Some(key)))
    }
}

impl<'a> ApiExtractor<'a> for IdempotencyKeyHeader {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = false;

    type ParamType = Option<String>;
    type ParamRawType = String;

    fn register(registry: &mut Registry) {
        <String as Type>::register(registry);
    }

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Header)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(<String as Type>::schema_ref())
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self::read(request)?)
    }
}
