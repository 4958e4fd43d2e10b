//! Sharing work among threads without changing its result.

/// Runs `work` on `items` cut into up to `n_threads` consecutive parts, each part on a
/// thread of its own (the calling thread when there is one part), and returns the
/// results in the order of the parts: the same, joined, for any number of threads.
pub(super) fn in_parts<T, R, W>(items: &[T], n_threads: usize, work: W) -> Vec<R>
where
    T: Sync,
    R: Send,
    W: Fn(&[T]) -> R + Sync,
{
    let n_parts = n_threads.clamp(1, items.len().max(1));
    if n_parts == 1 {
        return vec![work(items)];
    }
    let part_len = items.len().div_ceil(n_parts);
    let work = &work;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(part_len)
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        workers
            .into_iter()
            // A worker's panic is a bug; carry it on in the calling thread.
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}
