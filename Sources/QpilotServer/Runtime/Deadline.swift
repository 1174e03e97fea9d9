import Synchronization

/// The value of `work`, or nil when `limit` passes first; then `work` is cancelled and its late
/// value dropped. The caller does not wait for work that ignores cancellation.
func value<T: Sendable>(of work: Task<T, Never>, within limit: Duration) async -> T? {
    let answer = Mutex<CheckedContinuation<T?, Never>?>(nil)
    return await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
        answer.withLock { $0 = continuation }
        let finish: @Sendable (T?) -> Void = { result in answer.withLock { $0.take() }?.resume(returning: result) }
        Task { finish(await work.value) }
        Task {
            try? await Task.sleep(for: limit)
            work.cancel()
            finish(nil)
        }
    }
}
