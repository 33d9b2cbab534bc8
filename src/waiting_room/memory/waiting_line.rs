//! The waiting buyers of one line in the order of their places, each one's position a prefix
//! count. A place is handed out by the line as a buyer takes one; it is the token's `seq` only
//! as long as the line never had a pre-queue.

use std::ops::Range;

use super::fenwick::Fenwick;
use crate::domain::UserId;

/// A waiting buyer's slot in the line; with the slot's `seq` and the line's schedule it gives
/// back the token's claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Waiter {
    pub(super) user: UserId,
    /// The seq of the buyer's token (not their place).
    pub(super) seq: u64,
    pub(super) token_id: u64,
    pub(super) issued_at_ms: i64,
    pub(super) last_seen_ms: i64,
}

/// The waiting buyers of one line in `seq` order, with each one's rank in O(log n).
///
/// Slot `i` holds the buyer with `seq == base + i`, or `None` once they left. A Fenwick tree
/// over the slots counts who is still there, so a position is a prefix sum. Slots before
/// `head` are all empty, and while anyone waits `head` is the front; leading empty slots are
/// dropped once they make up half of the vector. Slots below `pinned_until` are kept even when
/// nobody waits (the seqs a crash may have lost).
#[derive(Default)]
pub(super) struct WaitingLine {
    base: u64,
    head: usize,
    slots: Vec<Option<Waiter>>,
    present: Fenwick,
    len: u64,
    pinned_until: u64,
}

impl WaitingLine {
    /// Below this many leading empty slots, compacting is not worth a rebuild.
    const MIN_COMPACT: usize = 1024;

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The seq after the last slot.
    pub(super) fn end_seq(&self) -> u64 {
        self.base + self.slots.len() as u64
    }

    fn pinned(&self) -> bool {
        self.base + (self.head as u64) < self.pinned_until
    }

    /// Puts a buyer at the back. `seq` must be above every `seq` pushed before.
    pub(super) fn push(&mut self, seq: u64, waiter: Waiter) {
        if self.is_empty() && !self.pinned() {
            self.base = seq;
            self.head = 0;
            self.slots.clear();
            self.present = Fenwick::default();
        }
        let Some(index) = self.index(seq) else {
            debug_assert!(false, "seq {seq} pushed behind the back of the line");
            return;
        };
        while self.slots.len() < index {
            self.slots.push(None);
            self.present.push(0);
        }
        if self.slots.len() > index {
            debug_assert!(false, "seq {seq} pushed twice");
            return;
        }
        self.slots.push(Some(waiter));
        self.present.push(1);
        self.len += 1;
    }

    /// Fills the empty slot of `seq` inside the line (a lost seq put back). False when the
    /// front has passed it or the slot is taken.
    pub(super) fn insert(&mut self, seq: u64, waiter: Waiter) -> bool {
        let Some(index) = self.index(seq) else {
            return false;
        };
        if index < self.head {
            return false;
        }
        match self.slots.get_mut(index) {
            Some(slot @ None) => *slot = Some(waiter),
            _ => return false,
        }
        self.present.add_one(index);
        self.len += 1;
        true
    }

    /// Opens empty slots for `seqs`, which must lie at or after the back, and keeps them.
    pub(super) fn open_until(&mut self, seqs: Range<u64>) {
        if self.is_empty() {
            self.base = seqs.start;
            self.head = 0;
            self.slots.clear();
            self.present = Fenwick::default();
        }
        while self.end_seq() < seqs.end {
            self.slots.push(None);
            self.present.push(0);
        }
        self.pinned_until = seqs.end;
    }

    /// Takes the buyer at the front.
    pub(super) fn pop_front(&mut self) -> Option<(u64, Waiter)> {
        while let Some(slot) = self.slots.get_mut(self.head) {
            let index = self.head;
            self.head += 1;
            if let Some(waiter) = slot.take() {
                self.present.sub_one(index);
                self.len -= 1;
                let seq = self.base + index as u64;
                self.settle();
                return Some((seq, waiter));
            }
        }
        None
    }

    /// Takes `seq` out of the line wherever it stands.
    pub(super) fn remove(&mut self, seq: u64) -> Option<Waiter> {
        let index = self.index(seq)?;
        let waiter = self.slots.get_mut(index)?.take()?;
        self.present.sub_one(index);
        self.len -= 1;
        self.settle();
        Some(waiter)
    }

    pub(super) fn get(&self, seq: u64) -> Option<&Waiter> {
        self.slots.get(self.index(seq)?)?.as_ref()
    }

    pub(super) fn get_mut(&mut self, seq: u64) -> Option<&mut Waiter> {
        let index = self.index(seq)?;
        self.slots.get_mut(index)?.as_mut()
    }

    /// The buyer at the front.
    pub(super) fn front(&self) -> Option<&Waiter> {
        if self.is_empty() {
            return None;
        }
        self.slots.get(self.present.first_nonzero()?)?.as_ref()
    }

    /// The lowest place that may still be waiting.
    #[cfg(test)]
    pub(super) fn front_seq(&self) -> Option<u64> {
        (!self.is_empty() || self.pinned()).then_some(self.base + self.head as u64)
    }

    /// 1 for the front of the line: how many wait ahead of `seq`, plus one.
    pub(super) fn position(&self, seq: u64) -> Option<u64> {
        let index = self.index(seq)?;
        self.slots.get(index)?.as_ref()?;
        Some(self.present.prefix(index) + 1)
    }

    fn index(&self, seq: u64) -> Option<usize> {
        usize::try_from(seq.checked_sub(self.base)?).ok()
    }

    /// Moves `head` to the front and compacts.
    fn settle(&mut self) {
        if self.is_empty() {
            if !self.pinned() {
                *self = Self {
                    base: self.base,
                    ..Self::default()
                };
            }
            return;
        }
        while self.slots.get(self.head).is_some_and(Option::is_none) {
            self.head += 1;
        }
        if self.head >= Self::MIN_COMPACT && self.head * 2 >= self.slots.len() {
            self.slots.drain(..self.head);
            self.base += self.head as u64;
            self.head = 0;
            self.present = Fenwick::from_flags(self.slots.iter().map(Option::is_some));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    fn user(i: i64) -> Waiter {
        Waiter {
            user: UserId(i),
            seq: i as u64,
            token_id: i as u64,
            issued_at_ms: 0,
            last_seen_ms: 0,
        }
    }

    #[test]
    fn positions_stay_dense_through_pops_removals_and_compaction() {
        let mut line = WaitingLine::default();
        let mut model: VecDeque<u64> = VecDeque::new();
        for seq in 1..=5_000u64 {
            line.push(seq, user(seq as i64));
            model.push_back(seq);
        }
        for round in 0..4_000u64 {
            if round % 3 == 0 {
                let victim = model[(round as usize * 7) % model.len()];
                assert_eq!(line.remove(victim), Some(user(victim as i64)));
                model.retain(|&s| s != victim);
            } else {
                let (seq, _) = line.pop_front().unwrap();
                assert_eq!(Some(seq), model.pop_front());
                assert_eq!(
                    line.front().map(|w| w.user.0 as u64),
                    model.front().copied()
                );
            }
            if round % 97 == 0 {
                for (rank, &seq) in model.iter().enumerate() {
                    assert_eq!(line.position(seq), Some(rank as u64 + 1));
                }
            }
        }
        assert_eq!(line.len(), model.len() as u64);
        assert!(line.head < 2 * WaitingLine::MIN_COMPACT || line.head * 2 < line.slots.len());
        assert_eq!(line.position(1), None);
        assert_eq!(line.remove(1), None);
    }

    #[test]
    fn an_emptied_line_starts_again_at_the_next_seq() {
        let mut line = WaitingLine::default();
        line.push(10, user(1));
        assert_eq!(line.pop_front(), Some((10, user(1))));
        assert!(line.is_empty());
        line.push(500, user(2));
        assert_eq!(line.slots.len(), 1);
        assert_eq!(line.position(500), Some(1));
    }

    #[test]
    fn a_pinned_range_keeps_its_slots_until_the_front_passes_it() {
        let mut line = WaitingLine::default();
        line.push(3, user(3));
        line.open_until(4..10);
        assert_eq!(line.pop_front(), Some((3, user(3))));
        assert!(line.is_empty());
        // Nobody waits, but the lost seqs can still be put back, in seq order.
        assert!(line.insert(7, user(7)));
        assert!(line.insert(5, user(5)));
        assert!(!line.insert(5, user(55)), "the slot is taken");
        line.push(10, user(10));
        assert_eq!(line.position(5), Some(1));
        assert_eq!(line.position(7), Some(2));
        assert_eq!(line.position(10), Some(3));
        assert_eq!(line.front_seq(), Some(4), "nobody below 4 waits");
        assert_eq!(line.front().map(|w| w.user), Some(UserId(5)));
        assert_eq!(line.pop_front(), Some((5, user(5))));
        assert_eq!(line.pop_front(), Some((7, user(7))));
        // The front passed 6: too late for it.
        assert!(!line.insert(6, user(6)));
        assert_eq!(line.pop_front(), Some((10, user(10))));
        assert!(line.is_empty());
        line.push(20, user(20));
        assert_eq!(
            line.slots.len(),
            1,
            "no longer pinned: an empty line starts afresh"
        );
    }
}
