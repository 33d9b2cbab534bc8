//! One conformance suite for every `EventSink`: the same delivery tests run against each sink,
//! through the real relay and a real SQLite outbox, and check what arrived at the far side.
//!
//! - webhook: always, against an HTTP receiver on 127.0.0.1;
//! - kafka (feature `kafka`): against the broker at `BOXOFFICE_TEST_KAFKA_BROKERS` (`.ci/run`
//!   starts tansu for it), read back with a Kafka consumer; each test has its own topic. A build
//!   with the feature and the variable unset fails.
//!
//! What every sink must show: the events of one key arrive in the order they occurred; an event
//! the sink failed to deliver (nothing sent, or sent but the answer lost) arrives later, at
//! least once, still in order; the envelope arrives byte for byte, with its id and type in the
//! headers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use boxoffice::clock::Clock;
use boxoffice::domain::Money;
use boxoffice::domain::balance::ChargeAmount;
use boxoffice::domain::catalog::{NewConcert, TicketLimit};
use boxoffice::domain::reservation::Holder;
use boxoffice::domain::reservation::SeatSelection;
use boxoffice::domain::text::Email;
use boxoffice::events::relay::{Relay, RelaySettings};
use boxoffice::events::{DeliveryError, EventSink};
use boxoffice::metrics::Metrics;
use boxoffice::store::sqlite::{SqliteStore, Synchronous};
use boxoffice::store::{HoldRequest, OutboxEvent, Store};
use serde_json::Value;
use tempfile::TempDir;

/// How long anything in these tests may take to arrive.
const WAIT: Duration = Duration::from_secs(30);

/// One message as the far side of a sink received it.
#[derive(Debug, Clone)]
struct Arrival {
    /// The `Boxoffice-Event-Id` header.
    event_id: Option<String>,
    /// The `Boxoffice-Event-Type` header.
    event_type: Option<String>,
    /// The transport's own key, where it has one (the Kafka message key).
    key: Option<String>,
    body: Vec<u8>,
}

impl Arrival {
    fn envelope(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is the JSON envelope")
    }
}

/// A sink under test and the receiving end it delivers to.
trait Far: Send + Sync {
    fn sink(&self) -> Arc<dyn EventSink>;
    /// Everything received so far, in arrival order.
    fn arrivals(&self) -> Vec<Arrival>;
    /// Whether the transport carries the aggregate key itself (and must get it right).
    fn keyed(&self) -> bool;
}

/// How a [`Flaky`] sink fails.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Nothing is sent: the receiver is unreachable.
    Outage,
    /// The event is really delivered, then the answer is lost: the relay must send it again.
    LostAnswer,
}

/// Wraps the sink under test: its first `failures` deliveries fail with `fault`.
struct Flaky {
    inner: Arc<dyn EventSink>,
    fault: Fault,
    failures: AtomicUsize,
}

#[async_trait]
impl EventSink for Flaky {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn deliver(&self, event: &OutboxEvent) -> Result<(), DeliveryError> {
        let fail = self
            .failures
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if !fail {
            return self.inner.deliver(event).await;
        }
        if let Fault::LostAnswer = self.fault {
            self.inner.deliver(event).await?;
        }
        Err(DeliveryError {
            sink: self.name().to_owned(),
            message: format!("injected {:?}", self.fault),
        })
    }
}

/// A SQLite outbox with the events of a few buyers in it.
struct Outbox {
    _dir: TempDir,
    store: Arc<SqliteStore>,
}

impl Outbox {
    /// Three buyers charge four times each, interleaved; the first holds two seats, pays
    /// for one and gives the other back.
    async fn with_a_story() -> Outbox {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("box.db"), Synchronous::Normal)
                .expect("the store opens"),
        );
        let now = Clock::system().now();
        let seats = (1..=2).map(|n| (format!("A{n}"), 100)).collect();
        let concert = NewConcert::parse(
            "Conformance",
            vec![(now + chrono::Duration::days(30), seats)],
            now,
        )
        .expect("a valid concert");
        let concert = store.create_concert(concert, now).await.expect("concert");
        let mut buyers = Vec::new();
        for n in 0..3 {
            let email = format!("buyer{n}@example.com");
            let email = Email::parse(&email).expect("an address");
            buyers.push(
                store
                    .create_user("buyer", &email, now)
                    .await
                    .expect("user")
                    .id,
            );
        }
        let max = Money::new(i64::MAX).expect("money");
        for round in 1..=4 {
            for buyer in &buyers {
                let amount = ChargeAmount::parse(round * 1_000, max).expect("amount");
                store
                    .charge(*buyer, amount, now, None)
                    .await
                    .expect("charge");
            }
        }
        let schedule = &concert.schedules[0];
        let seats = store
            .seats(concert.id, schedule.id, now)
            .await
            .expect("seats");
        let hold = |seat: usize| HoldRequest {
            user_id: buyers[0],
            concert_id: concert.id,
            schedule_id: schedule.id,
            seats: SeatSelection::one(seats[seat].id),
            now,
            expires_at: now + chrono::Duration::minutes(5),
            max_per_buyer: TicketLimit::new(4).expect("a limit"),
        };
        let kept = store.reserve_seat(hold(0)).await.expect("hold");
        let returned = store.reserve_seat(hold(1)).await.expect("hold");
        store
            .pay(
                Holder {
                    user: buyers[0],
                    schedule: kept.schedule_id,
                },
                kept.id,
                now,
                None,
            )
            .await
            .expect("payment");
        store
            .cancel_reservation(
                Holder {
                    user: buyers[0],
                    schedule: returned.schedule_id,
                },
                returned.id,
                now,
            )
            .await
            .expect("cancel");
        Outbox { _dir: dir, store }
    }

    async fn events(&self) -> Vec<OutboxEvent> {
        self.store.outbox(1_000).await.expect("the outbox reads")
    }

    /// Runs the relay until every event is delivered; panics after [`WAIT`].
    async fn relay_to(&self, sink: Arc<dyn EventSink>) {
        let settings = RelaySettings {
            max_attempts: 1_000,
            retry_base: Duration::from_millis(10),
            retry_cap: Duration::from_millis(50),
            sink_timeout: Duration::from_secs(15),
        };
        let relay = Relay::new(
            self.store.clone(),
            vec![sink],
            settings,
            Metrics::global(),
            Clock::system(),
        );
        let stop = AtomicBool::new(false);
        let deadline = Instant::now() + WAIT;
        loop {
            relay.run(&stop).await.expect("a relay run");
            let events = self.events().await;
            if events.iter().all(|e| e.state == "delivered") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not delivered in time: {:?}",
                events
                    .iter()
                    .filter(|e| e.state != "delivered")
                    .map(|e| (&e.event_type, &e.state, &e.last_error))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the far side has every event; returns what arrived.
    async fn arrived_at(&self, far: &dyn Far) -> Vec<Arrival> {
        let wanted: HashSet<String> = self
            .events()
            .await
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        let deadline = Instant::now() + WAIT;
        loop {
            let arrivals = far.arrivals();
            let got: HashSet<String> = arrivals.iter().filter_map(|a| a.event_id.clone()).collect();
            if wanted.is_subset(&got) {
                return arrivals;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {} events arrived",
                wanted.intersection(&got).count(),
                wanted.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asserts that each key's events were first received in the order they occurred.
    async fn assert_in_order_per_key(&self, arrivals: &[Arrival]) {
        let mut occurred: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for event in self.events().await {
            occurred
                .entry(event.aggregate_key)
                .or_default()
                .push(event.event_id);
        }
        let mut received: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut seen = HashSet::new();
        for arrival in arrivals {
            let envelope = arrival.envelope();
            let id = envelope["id"].as_str().expect("an id").to_owned();
            if seen.insert(id.clone()) {
                let key = envelope["key"].as_str().expect("a key").to_owned();
                received.entry(key).or_default().push(id);
            }
        }
        assert!(occurred.len() >= 5, "the story has several keys");
        assert_eq!(
            received, occurred,
            "events of one key arrive in the order they occurred"
        );
    }
}

/// The conformance tests, each written once for any [`Far`].
mod conformance {
    use super::*;

    pub async fn events_of_a_key_arrive_in_the_order_they_occurred(far: &dyn Far) {
        let outbox = Outbox::with_a_story().await;
        outbox.relay_to(far.sink()).await;
        let arrivals = outbox.arrived_at(far).await;
        outbox.assert_in_order_per_key(&arrivals).await;
    }

    pub async fn events_refused_during_an_outage_arrive_once_it_ends(far: &dyn Far) {
        let outbox = Outbox::with_a_story().await;
        let flaky = Arc::new(Flaky {
            inner: far.sink(),
            fault: Fault::Outage,
            failures: AtomicUsize::new(12),
        });
        outbox.relay_to(flaky.clone()).await;
        assert_eq!(
            flaky.failures.load(Ordering::Acquire),
            0,
            "the outage happened"
        );
        let events = outbox.events().await;
        assert!(
            events.iter().any(|e| e.attempts > 0),
            "some events were retried"
        );
        let arrivals = outbox.arrived_at(far).await;
        outbox.assert_in_order_per_key(&arrivals).await;
    }

    pub async fn events_whose_answer_was_lost_arrive_again_still_in_order(far: &dyn Far) {
        let outbox = Outbox::with_a_story().await;
        let flaky = Arc::new(Flaky {
            inner: far.sink(),
            fault: Fault::LostAnswer,
            failures: AtomicUsize::new(8),
        });
        outbox.relay_to(flaky.clone()).await;
        assert_eq!(
            flaky.failures.load(Ordering::Acquire),
            0,
            "answers were lost"
        );
        let arrivals = outbox.arrived_at(far).await;
        let events = outbox.events().await;
        // Each lost answer means one more copy arrives (at least once, not exactly once).
        assert_eq!(
            arrivals.len(),
            events.len() + 8,
            "the lost ones arrive twice"
        );
        outbox.assert_in_order_per_key(&arrivals).await;
    }

    pub async fn the_envelope_arrives_intact_with_its_id_and_type(far: &dyn Far) {
        let outbox = Outbox::with_a_story().await;
        outbox.relay_to(far.sink()).await;
        let arrivals = outbox.arrived_at(far).await;
        let events: HashMap<String, OutboxEvent> = outbox
            .events()
            .await
            .into_iter()
            .map(|e| (e.event_id.clone(), e))
            .collect();
        assert_eq!(arrivals.len(), events.len(), "each event arrives once");
        for arrival in &arrivals {
            let id = arrival.event_id.as_deref().expect("the event id header");
            let event = &events[id];
            assert_eq!(arrival.body, event.envelope.to_string().into_bytes());
            let envelope = arrival.envelope();
            assert_eq!(envelope, event.envelope.value().unwrap());
            assert_eq!(envelope["id"], id);
            assert_eq!(envelope["type"], event.event_type.as_str());
            assert_eq!(envelope["key"], event.aggregate_key.as_str());
            assert_eq!(
                arrival.event_type.as_deref(),
                Some(event.event_type.as_str())
            );
            if far.keyed() {
                assert_eq!(arrival.key.as_deref(), Some(event.aggregate_key.as_str()));
            }
        }
    }
}

/// The suite for one sink: `$far` is an async fn from the test's name to its `impl Far`.
macro_rules! conformance_suite {
    ($far:ident: $($test:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                let far = $far(stringify!($test)).await;
                conformance::$test(&far).await;
            }
        )+
    };
}

/// Every test of [`conformance`], for `$far`.
macro_rules! every_conformance_test {
    ($far:ident) => {
        conformance_suite!($far:
            events_of_a_key_arrive_in_the_order_they_occurred,
            events_refused_during_an_outage_arrive_once_it_ends,
            events_whose_answer_was_lost_arrive_again_still_in_order,
            the_envelope_arrives_intact_with_its_id_and_type,
        );
    };
}

mod webhook {
    use std::net::SocketAddr;

    use boxoffice::events::webhook::WebhookSink;
    use poem::http::{HeaderMap, StatusCode};
    use poem::listener::{Acceptor, Listener, TcpListener};
    use poem::web::Data;
    use poem::{EndpointExt, Route, Server, handler, post};

    use super::*;

    /// A webhook receiver on 127.0.0.1 that accepts everything.
    pub struct Receiver {
        addr: SocketAddr,
        inbox: Arc<Mutex<Vec<Arrival>>>,
        server: tokio::task::JoinHandle<()>,
    }

    #[handler]
    fn hook(
        headers: &HeaderMap,
        body: Vec<u8>,
        inbox: Data<&Arc<Mutex<Vec<Arrival>>>>,
    ) -> StatusCode {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        inbox.lock().expect("inbox").push(Arrival {
            event_id: header("Boxoffice-Event-Id"),
            event_type: header("Boxoffice-Event-Type"),
            key: None,
            body,
        });
        StatusCode::NO_CONTENT
    }

    pub async fn receiver(_test: &str) -> Receiver {
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("the receiver binds");
        let addr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a TCP address");
        let routes = Route::new().at("/hook", post(hook)).data(inbox.clone());
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(routes).await;
        });
        Receiver {
            addr,
            inbox,
            server,
        }
    }

    impl Far for Receiver {
        fn sink(&self) -> Arc<dyn EventSink> {
            let url = format!("http://{}/hook", self.addr);
            Arc::new(
                WebhookSink::new(&url, b"conformance-secret-0123", Duration::from_secs(5))
                    .expect("a webhook sink"),
            )
        }

        fn arrivals(&self) -> Vec<Arrival> {
            self.inbox.lock().expect("inbox").clone()
        }

        fn keyed(&self) -> bool {
            false
        }
    }

    impl Drop for Receiver {
        fn drop(&mut self) {
            self.server.abort();
        }
    }

    every_conformance_test!(receiver);
}

#[cfg(feature = "kafka")]
#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

#[cfg(feature = "kafka")]
mod kafka {
    use boxoffice::events::kafka::{EVENT_ID_HEADER, EVENT_TYPE_HEADER, KafkaSink};
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::message::{Headers, Message};
    use rdkafka::{Offset, TopicPartitionList};
    use reqwest::StatusCode;

    use super::*;
    use crate::helpers::{body, spawn_app_with};

    /// The brokers to test against, which a build with the kafka feature must name.
    fn brokers(test: &str) -> String {
        match std::env::var("BOXOFFICE_TEST_KAFKA_BROKERS") {
            Ok(brokers) if !brokers.trim().is_empty() => brokers,
            _ => panic!(
                "kafka::{test}: set BOXOFFICE_TEST_KAFKA_BROKERS=host:port of a Kafka broker \
                 (.ci/run starts tansu): a build with the kafka feature tests Kafka for real"
            ),
        }
    }

    /// A fresh topic name for one test.
    fn topic(test: &str) -> String {
        format!("boxoffice.test.{test}.{}", uuid::Uuid::new_v4().simple())
    }

    /// Reads every partition of a topic from the beginning, in the background.
    pub struct Reader {
        arrivals: Arc<Mutex<Vec<Arrival>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Reader {
        /// Starts reading `topic`, which must exist.
        async fn start(brokers: &str, topic: &str) -> Reader {
            let consumer: StreamConsumer = ClientConfig::new()
                .set("bootstrap.servers", brokers)
                .set("group.id", topic)
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "earliest")
                .create()
                .expect("a Kafka consumer");
            let consumer = Arc::new(consumer);
            let (partitions, name) = (consumer.clone(), topic.to_owned());
            let metadata = tokio::task::spawn_blocking(move || {
                partitions.fetch_metadata(Some(&name), Duration::from_secs(10))
            })
            .await
            .expect("the metadata task")
            .expect("the topic's metadata");
            let mut assignment = TopicPartitionList::new();
            for t in metadata.topics() {
                for p in t.partitions() {
                    assignment
                        .add_partition_offset(t.name(), p.id(), Offset::Beginning)
                        .expect("a partition");
                }
            }
            assert!(assignment.count() > 0, "the topic {topic} has partitions");
            consumer
                .assign(&assignment)
                .expect("the partitions are assigned");
            let arrivals = Arc::new(Mutex::new(Vec::new()));
            let sink = arrivals.clone();
            let task = tokio::spawn(async move {
                loop {
                    let message = match consumer.recv().await {
                        Ok(message) => message,
                        Err(err) => {
                            eprintln!("consumer: {err}");
                            continue;
                        }
                    };
                    let mut arrival = Arrival {
                        event_id: None,
                        event_type: None,
                        key: message
                            .key()
                            .map(|k| String::from_utf8_lossy(k).into_owned()),
                        body: message.payload().unwrap_or_default().to_vec(),
                    };
                    if let Some(headers) = message.headers() {
                        for header in headers.iter() {
                            let value = header
                                .value
                                .map(|v| String::from_utf8_lossy(v).into_owned());
                            match header.key {
                                EVENT_ID_HEADER => arrival.event_id = value,
                                EVENT_TYPE_HEADER => arrival.event_type = value,
                                _ => {}
                            }
                        }
                    }
                    sink.lock().expect("arrivals").push(arrival);
                }
            });
            Reader { arrivals, task }
        }

        fn arrivals(&self) -> Vec<Arrival> {
            self.arrivals.lock().expect("arrivals").clone()
        }
    }

    impl Drop for Reader {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// A Kafka sink on its own topic, and a reader of that topic.
    pub struct Topic {
        sink: Arc<KafkaSink>,
        reader: Reader,
    }

    pub async fn topic_for(test: &str) -> Topic {
        let brokers = brokers(test);
        let topic = topic(test);
        let sink = KafkaSink::connect(&brokers, &topic, Duration::from_secs(10))
            .await
            .expect("the sink connects and creates its topic");
        let reader = Reader::start(&brokers, &topic).await;
        Topic {
            sink: Arc::new(sink),
            reader,
        }
    }

    impl Far for Topic {
        fn sink(&self) -> Arc<dyn EventSink> {
            self.sink.clone()
        }

        fn arrivals(&self) -> Vec<Arrival> {
            self.reader.arrivals()
        }

        fn keyed(&self) -> bool {
            true
        }
    }

    every_conformance_test!(topic_for);

    #[tokio::test]
    async fn a_kafka_sink_with_no_broker_to_reach_fails_at_start_up_in_bounded_time() {
        let started = Instant::now();
        // Nothing listens on port 1.
        let sink = KafkaSink::connect(
            "127.0.0.1:1",
            "boxoffice.unreachable",
            Duration::from_secs(1),
        )
        .await;
        let Err(err) = sink else {
            panic!("no broker, no sink");
        };
        assert!(err.to_string().contains("boxoffice.unreachable"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "gave up in time"
        );
    }

    #[tokio::test]
    async fn a_buyer_who_holds_and_pays_produces_held_then_completed_on_the_reservation_key() {
        let brokers = brokers(
            "a_buyer_who_holds_and_pays_produces_held_then_completed_on_the_reservation_key",
        );
        let topic = topic("end-to-end");
        let (b, t) = (brokers.clone(), topic.clone());
        let app = spawn_app_with(move |c| {
            c.kafka_brokers = Some(b);
            c.kafka_topic = t;
            c.outbox_interval = Duration::from_secs(1);
            c.outbox_retry_base = Duration::from_millis(50);
        })
        .await;
        // The app created the topic at start-up.
        let reader = Reader::start(&brokers, &topic).await;

        let buyer = app.buyer_with_session(1, 100, 1_000).await;
        let resp = app
            .reserve(&buyer.token, buyer.concert, buyer.schedule, buyer.seats[0])
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let reservation = body(resp).await["reservationId"]
            .as_i64()
            .expect("a reservation id");
        let resp = app.pay(&buyer.token, buyer.user, reservation, None).await;
        assert_eq!(resp.status(), StatusCode::CREATED);

        let key = format!("reservation:{reservation}");
        let deadline = Instant::now() + WAIT;
        let types = loop {
            let mut seen = HashSet::new();
            let types: Vec<String> = reader
                .arrivals()
                .into_iter()
                .filter(|a| a.key.as_deref() == Some(key.as_str()))
                .filter(|a| seen.insert(a.event_id.clone()))
                .filter_map(|a| a.event_type)
                .collect();
            if types.len() >= 2 || Instant::now() > deadline {
                break types;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(types, ["reservation.held", "payment.completed"], "on {key}");
        let paid = reader
            .arrivals()
            .into_iter()
            .find(|a| a.event_type.as_deref() == Some("payment.completed"))
            .expect("payment.completed arrived")
            .envelope();
        assert_eq!(paid["data"]["amount"], 100);
        assert_eq!(paid["data"]["userId"], buyer.user);
    }
}
