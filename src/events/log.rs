//! The log sink: writes each event to the log at info level. Always available, and the
//! default when no other sink is configured.

use async_trait::async_trait;

use super::{DeliveryError, EventSink};
use crate::store::OutboxEvent;

#[derive(Debug, Default)]
pub struct LogSink;

#[async_trait]
impl EventSink for LogSink {
    fn name(&self) -> &str {
        "log"
    }

    async fn deliver(&self, event: &OutboxEvent) -> Result<(), DeliveryError> {
        tracing::info!(
            target: "boxoffice::events",
            event_id = %event.event_id,
            event_type = %event.event_type,
            key = %event.aggregate_key,
            envelope = %event.envelope,
            "event"
        );
        Ok(())
    }
}
