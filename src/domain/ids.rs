//! Identifiers. Each entity has its own newtype so that a seat id can never be passed where a
//! user id is expected; on the wire they are plain integers, as in the seed service.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A buyer.
    UserId
);
id_type!(
    /// A concert (a title with one or more shows).
    ConcertId
);
id_type!(
    /// One show of a concert: a start time and its own seats and waiting line.
    ScheduleId
);
id_type!(
    /// One seat of one show.
    SeatId
);
id_type!(
    /// A hold on a seat, later confirmed by a payment.
    ReservationId
);
id_type!(
    /// A completed payment.
    PaymentId
);
