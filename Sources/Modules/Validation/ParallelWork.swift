import Dispatch
import Synchronization

/// Independent pieces of validation work spread over the cores, for the validator's synchronous
/// API.
enum ParallelWork {
    /// Below this many bytes of module, waking other threads costs more than it saves.
    static let minimumBytes = 256 * 1024

    /// Runs `first` and `second` at the same time and returns both results once both are done.
    static func both<First: Sendable, Second: Sendable>(
        _ first: @Sendable () -> First, _ second: @Sendable () -> Second
    ) -> (First, Second) {
        let firstResult = Mutex<First?>(nil)
        let secondResult = Mutex<Second?>(nil)
        DispatchQueue.concurrentPerform(iterations: 2) { item in
            if item == 0 {
                let result = first()
                firstResult.withLock { $0 = result }
            } else {
                let result = second()
                secondResult.withLock { $0 = result }
            }
        }
        return (firstResult.withLock { $0! }, secondResult.withLock { $0! })
    }
}
