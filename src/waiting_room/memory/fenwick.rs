//! A Fenwick (binary indexed) tree of counts: the positions of `WaitingLine` are its prefix
//! sums.

/// A Fenwick (binary indexed) tree of counts: append, decrement and prefix sums in O(log n).
#[derive(Default)]
pub(super) struct Fenwick {
    /// 1-based: `nodes[i - 1]` is the sum of the elements in `(i - lowbit(i), i]`.
    nodes: Vec<u32>,
}

impl Fenwick {
    pub(super) fn from_flags(flags: impl Iterator<Item = bool>) -> Self {
        let mut nodes: Vec<u32> = flags.map(u32::from).collect();
        let n = nodes.len();
        for i in 1..=n {
            let parent = i + lowbit(i);
            if parent <= n {
                nodes[parent - 1] += nodes[i - 1];
            }
        }
        Self { nodes }
    }

    /// Appends an element at index `len`.
    pub(super) fn push(&mut self, value: u32) {
        let i = self.nodes.len() + 1;
        let low = i - lowbit(i);
        let mut sum = value;
        let mut j = i - 1;
        while j > low {
            sum += self.nodes[j - 1];
            j -= lowbit(j);
        }
        self.nodes.push(sum);
    }

    /// Adds one to the element at `index`.
    pub(super) fn add_one(&mut self, index: usize) {
        let mut i = index + 1;
        while i <= self.nodes.len() {
            self.nodes[i - 1] += 1;
            i += lowbit(i);
        }
    }

    /// Takes one from the element at `index`, which must be at least one.
    pub(super) fn sub_one(&mut self, index: usize) {
        let mut i = index + 1;
        while i <= self.nodes.len() {
            self.nodes[i - 1] -= 1;
            i += lowbit(i);
        }
    }

    /// The first index whose element is not zero, in O(log n).
    pub(super) fn first_nonzero(&self) -> Option<usize> {
        let n = self.nodes.len();
        let mut pos = 0;
        let mut step = if n == 0 { 0 } else { 1 << n.ilog2() };
        while step > 0 {
            if pos + step <= n && self.nodes[pos + step - 1] == 0 {
                pos += step;
            }
            step >>= 1;
        }
        (pos < n).then_some(pos)
    }

    /// The sum of the elements before `index`.
    pub(super) fn prefix(&self, index: usize) -> u64 {
        let mut sum = 0u64;
        let mut i = index.min(self.nodes.len());
        while i > 0 {
            sum += u64::from(self.nodes[i - 1]);
            i -= lowbit(i);
        }
        sum
    }
}

fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fenwick_tree_counts_like_a_plain_sum() {
        let flags: Vec<bool> = (0..300).map(|i| i % 3 != 0 || i % 7 == 0).collect();
        let built = Fenwick::from_flags(flags.iter().copied());
        let mut pushed = Fenwick::default();
        for &flag in &flags {
            pushed.push(u32::from(flag));
        }
        let mut expected = 0;
        for (i, &flag) in flags.iter().enumerate() {
            assert_eq!(built.prefix(i), expected, "built, prefix {i}");
            assert_eq!(pushed.prefix(i), expected, "pushed, prefix {i}");
            expected += u64::from(flag);
        }
        assert_eq!(pushed.prefix(flags.len()), expected);
        assert_eq!(built.first_nonzero(), flags.iter().position(|&f| f));
        assert_eq!(
            Fenwick::from_flags([false; 9].into_iter()).first_nonzero(),
            None
        );
        assert_eq!(Fenwick::default().first_nonzero(), None);
    }
}
