//! The `EventSink` port: delivers one outbox event to the outside world. The relay job (which
//! drains the outbox in order per key, with retries) is the only caller; a sink only has to
//! deliver one envelope and say whether it arrived.

use async_trait::async_trait;

use crate::store::OutboxEvent;

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod log;
pub mod relay;
pub mod webhook;

#[derive(Debug, thiserror::Error)]
#[error("{sink}: {message}")]
pub struct DeliveryError {
    pub sink: String,
    pub message: String,
}

#[async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// A short name for logs and metrics (`log`, `webhook`, `kafka`).
    fn name(&self) -> &str;

    /// Delivers one event; `Ok` only once the receiver has it.
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), DeliveryError>;
}
