import Foundation
import Synchronization

/// A task executor with threads of its own. The admin API's handlers run on it (see
/// `AdminAPI.router`), so an operator's request does not queue behind the thousands of xDS
/// stream tasks that a fan-out makes runnable on Swift's shared pool (two threads on a
/// two-core machine): the kernel shares the CPU between these threads and the pool's, and admin
/// work starts at once. Actors without an executor of their own run their part of such a
/// request here too (SE-0417).
public final class DedicatedExecutor: TaskExecutor, Sendable {
    private let queue = Mutex<[UnownedJob]>([])
    private let wake = DispatchSemaphore(value: 0)

    public init(name: String, threads: Int) {
        for index in 0..<max(1, threads) {
            let thread = Thread { [self] in run() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        queue.withLock { $0.append(unowned) }
        wake.signal()
    }

    private func run() {
        while true {
            wake.wait()
            guard let job = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
