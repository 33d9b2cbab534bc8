//! The Kafka sink (feature `kafka`): produces each event to one topic, through librdkafka.
//!
//! - The message key is the event's aggregate key (`reservation:42`, `user:7`), so all events
//!   of one key land in one partition and a consumer reads them in the order they were
//!   produced. The relay only offers a key's next event once the previous one is delivered,
//!   so that order is the order they occurred.
//! - The value is the envelope's JSON, the same bytes a webhook receives. The headers
//!   `Boxoffice-Event-Id` and `Boxoffice-Event-Type` repeat its `id` and `type`, and
//!   `Content-Type` is `application/json`.
//! - The producer is idempotent (`enable.idempotence=true`, `acks=all`): librdkafka's own
//!   retries never duplicate or reorder a message within a partition. [`EventSink::deliver`]
//!   answers `Ok` only once the broker acknowledged the message to all in-sync replicas; a
//!   message not acknowledged within `--kafka-timeout` is a failure, and the relay offers the
//!   event again later (at least once: consumers dedupe by the envelope `id`).
//! - The topic is created through the admin API at start-up when it does not exist, with the
//!   broker's default partitions and replication; a topic that already exists is used as is.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use super::{DeliveryError, EventSink};
use crate::store::OutboxEvent;

/// The header with the envelope's `id`.
pub const EVENT_ID_HEADER: &str = "Boxoffice-Event-Id";
/// The header with the envelope's `type`.
pub const EVENT_TYPE_HEADER: &str = "Boxoffice-Event-Type";

/// Partitions and replicas of a topic created at start-up: the broker's defaults
/// (`num.partitions`, `default.replication.factor`).
const BROKER_DEFAULT: i32 = -1;

pub struct KafkaSink {
    name: String,
    topic: String,
    config: ClientConfig,
    timeout: Duration,
    /// Replaced when librdkafka reports a fatal error (an idempotent producer that lost its
    /// sequence), which leaves that producer unusable.
    producer: Mutex<FutureProducer>,
}

impl KafkaSink {
    /// A sink producing to `topic` on the cluster at `brokers` (`host:port,...`), creating the
    /// topic when it is missing. Fails when the cluster cannot be reached within `timeout`.
    pub async fn connect(brokers: &str, topic: &str, timeout: Duration) -> anyhow::Result<Self> {
        let millis = timeout.as_millis().clamp(1, i32::MAX as u128).to_string();
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set(
                "client.id",
                concat!("boxoffice/", env!("CARGO_PKG_VERSION")),
            )
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", &millis)
            .set("socket.timeout.ms", &millis);
        ensure_topic(&config, topic, timeout).await?;
        let producer: FutureProducer = config
            .create()
            .map_err(|e| anyhow::anyhow!("cannot create a Kafka producer for {brokers}: {e}"))?;
        Ok(KafkaSink {
            name: format!("kafka {topic}"),
            topic: topic.to_owned(),
            config,
            timeout,
            producer: Mutex::new(producer),
        })
    }

    /// The producer to send with; a new one when the current one failed for good.
    fn producer(&self) -> Result<FutureProducer, DeliveryError> {
        let mut producer = self
            .producer
            .lock()
            .map_err(|_| self.fail("lock poisoned"))?;
        if let Some(fatal) = producer.client().fatal_error() {
            tracing::error!(sink = %self.name, error = ?fatal, "Kafka producer failed for good; starting a new one");
            *producer = self.config.create().map_err(|e| {
                tracing::error!(sink = %self.name, error = %e, "cannot create a Kafka producer");
                self.fail(format!("cannot create a producer: {e}"))
            })?;
        }
        Ok(producer.clone())
    }

    fn fail(&self, message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            sink: self.name.clone(),
            message: message.into(),
        }
    }
}

/// Creates `topic` unless it exists.
async fn ensure_topic(config: &ClientConfig, topic: &str, timeout: Duration) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .map_err(|e| anyhow::anyhow!("cannot create a Kafka admin client: {e}"))?;
    let options = AdminOptions::new()
        .request_timeout(Some(timeout))
        .operation_timeout(Some(timeout));
    let wanted = NewTopic::new(
        topic,
        BROKER_DEFAULT,
        TopicReplication::Fixed(BROKER_DEFAULT),
    );
    let results = admin
        .create_topics([&wanted], &options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach Kafka to create topic {topic:?}: {e}"))?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, "Kafka topic created"),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(topic = %name, "Kafka topic exists")
            }
            Err((name, code)) => anyhow::bail!("cannot create Kafka topic {name:?}: {code}"),
        }
    }
    Ok(())
}

#[async_trait]
impl EventSink for KafkaSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, event: &OutboxEvent) -> Result<(), DeliveryError> {
        let producer = self.producer()?;
        let headers = OwnedHeaders::new_with_capacity(3)
            .insert(Header {
                key: EVENT_ID_HEADER,
                value: Some(event.event_id.as_str()),
            })
            .insert(Header {
                key: EVENT_TYPE_HEADER,
                value: Some(event.event_type.as_str()),
            })
            .insert(Header {
                key: "Content-Type",
                value: Some("application/json"),
            });
        let record = FutureRecord::to(&self.topic)
            .key(event.aggregate_key.as_str())
            .payload(event.envelope.as_str())
            .headers(headers);
        // The wait is for room in a full local queue; the broker's answer is bounded by
        // `message.timeout.ms`.
        match producer.send(record, self.timeout).await {
            Ok(_) => Ok(()),
            Err((err, _message)) => Err(self.fail(describe(&err))),
        }
    }
}

/// A librdkafka error in one line.
fn describe(err: &KafkaError) -> String {
    match err.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageTimedOut) => "no acknowledgement in time".into(),
        Some(RDKafkaErrorCode::QueueFull) => "the local queue is full".into(),
        _ => err.to_string(),
    }
}
