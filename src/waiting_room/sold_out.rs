//! Which shows have no free seat, as the admission job last found them: their lines let
//! nobody in, and their waiting buyers are told (`soldOut`, with the holds still open, since
//! their seats may come back). The job looks at every line with buyers waiting once a tick;
//! a poll reads the board and never the store.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use crate::domain::ScheduleId;

/// The sold-out shows of this instance's last admission tick, each with its open holds.
#[derive(Debug, Clone, Default)]
pub struct SoldOutBoard(Arc<RwLock<HashMap<ScheduleId, u64>>>);

impl SoldOutBoard {
    /// The open holds of `schedule` while it is sold out; `None` while it has a free seat.
    pub fn open_holds(&self, schedule: ScheduleId) -> Option<u64> {
        let shows = self.0.read().unwrap_or_else(PoisonError::into_inner);
        shows.get(&schedule).copied()
    }

    /// Replaces the board with what a tick found, and returns the sold-out shows.
    pub fn replace(&self, sold_out: HashMap<ScheduleId, u64>) -> HashSet<ScheduleId> {
        let shows = sold_out.keys().copied().collect();
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = sold_out;
        shows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_replaces_what_the_last_one_found() {
        let board = SoldOutBoard::default();
        assert_eq!(board.open_holds(ScheduleId(1)), None);
        let shows = board.replace(HashMap::from([(ScheduleId(1), 2), (ScheduleId(3), 0)]));
        assert_eq!(shows, HashSet::from([ScheduleId(1), ScheduleId(3)]));
        assert_eq!(board.clone().open_holds(ScheduleId(1)), Some(2));
        board.replace(HashMap::from([(ScheduleId(3), 0)]));
        assert_eq!(board.open_holds(ScheduleId(1)), None);
        assert_eq!(board.open_holds(ScheduleId(3)), Some(0));
    }
}
