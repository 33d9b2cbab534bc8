//! Giving freed heap memory back to the operating system.
//!
//! glibc's allocator keeps what the program frees for later allocations, in one arena per
//! thread that ever allocated (up to eight per core), and returns it to the kernel only from
//! the top of each arena. A busy server frees most of what it allocates, but the live blocks
//! left scattered through the arenas pin the free ones around them, so its resident size
//! grows with every request although what it holds does not: in a 4-minute soak of 168,000
//! purchases the heap in use stayed at 122–125 MB while the arenas grew from 143 to 235 MB
//! (`malloc_stats`, loadtest/REPORT.md). [`give_back`], run every
//! [`TRIM_INTERVAL`] by the jobs, hands the free pages inside every arena back with
//! `malloc_trim`, so the resident size follows what is held. Elsewhere (another libc, another
//! OS) it does nothing.

use std::time::Duration;

/// How often the jobs give freed memory back.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(10);

/// Returns the free memory of every arena to the kernel (the pages stay mapped and come back
/// zeroed when touched again). Whether any was returned. It walks every arena's free blocks
/// under that arena's lock, so it runs on a blocking thread.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn give_back() -> bool {
    // SAFETY: malloc_trim only walks the allocator's own free lists under its own locks; it
    // takes no pointer and leaves every allocated block as it is.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// This process's anonymous resident memory, in KiB.
    fn resident_anon_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("RssAnon:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("RssAnon in /proc/self/status")
    }

    #[test]
    fn freed_blocks_pinned_by_live_ones_are_given_back() {
        // 128 MiB in 1 KiB blocks (below the size glibc maps on its own, so they come from the
        // arena), every 64th kept alive: freeing the others leaves holes that the arena's top
        // cannot shrink past, the server's pattern.
        let blocks: Vec<Box<[u8; 1024]>> = (0..131_072).map(|_| Box::new([1u8; 1024])).collect();
        let kept: Vec<Box<[u8; 1024]>> = blocks
            .into_iter()
            .enumerate()
            .filter_map(|(i, block)| (i % 64 == 0).then_some(block))
            .collect();
        let before = resident_anon_kib();

        assert!(give_back(), "nothing was given back");
        let after = resident_anon_kib();
        assert!(
            before.saturating_sub(after) >= 64 * 1024,
            "resident {before} KiB before, {after} KiB after"
        );
        // What is still held is untouched. (Other tests of this process may allocate
        // meanwhile; half of what was freed is a margin they do not reach.)
        assert!(kept.iter().all(|block| block.iter().all(|&b| b == 1)));
        assert_eq!(kept.len(), 2048);
    }
}
