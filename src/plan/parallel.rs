//! [`map_in_order`]: work spread over every core, results taken in order.
//!
//! `berrah check` and `berrah plan` check 1,000 campaign files and write
//! 100,000 occurrences: each file (each chunk of the output) is independent
//! of the others, but what is printed must come out in one fixed order, the
//! same on one core as on many.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Runs `work` on each item on every core (a few threads taking the items in
/// order), and hands each result to `each` on the calling thread in the order
/// of `items`, as soon as it and those before it are done. `each` may stop
/// it all ([`ControlFlow::Break`]: the items not yet begun are never worked on).
///
/// Only a few results are ever waiting for `each` (the workers wait when the
/// calling thread falls behind), so memory stays that of a few items.
pub fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
    mut each: impl FnMut(&T, R) -> ControlFlow<()>,
) {
    let workers = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(items.len());
    if workers <= 1 {
        for item in items {
            if each(item, work(item)).is_break() {
                return;
            }
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel(workers * 2);
    let work = &work;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    // The receiver gone: `each` stopped.
                    if tx.send((i, work(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Items are taken in order: only those in flight can arrive early.
        let mut early = BTreeMap::new();
        let mut due = 0;
        // By value: dropped on `return`, before the scope waits for the workers.
        for (i, result) in rx {
            early.insert(i, result);
            while let Some(result) = early.remove(&due) {
                if each(&items[due], result).is_break() {
                    // Dropping the receiver ends the workers at their next send.
                    next.store(items.len(), Ordering::Relaxed);
                    return;
                }
                due += 1;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order_and_break_stops() {
        let items: Vec<u64> = (0..500).collect();
        let mut got = Vec::new();
        map_in_order(
            &items,
            |n| {
                // Uneven work, so that results arrive out of order.
                std::thread::sleep(std::time::Duration::from_micros(n % 7 * 50));
                n * 2
            },
            |n, r| {
                assert_eq!(r, n * 2);
                got.push(r);
                ControlFlow::Continue(())
            },
        );
        assert_eq!(got, (0..500).map(|n| n * 2).collect::<Vec<_>>());
        let mut seen = 0;
        map_in_order(
            &items,
            |n| *n,
            |_, _| {
                seen += 1;
                if seen == 10 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert_eq!(seen, 10);
    }
}
