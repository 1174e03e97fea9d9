import NIOCore
import NIOPosix
import ServiceLifecycle

/// One thread of its own, for a server whose answers must not queue behind other work.
///
/// Swift's cooperative pool has one thread per core, and every task waits its turn on it: when
/// qpilot pushes a change to 10,000 ADS streams, 10,000 stream tasks are runnable at once, and a
/// task that answers an admin request joins the end of that queue (docs/benchmarks.md measured a
/// PUT answered after 3.1 s at p99, published after 40 ms). Work that prefers this executor
/// (SE-0417 task executor preference, inherited by child tasks, and followed by default actors
/// such as the config writer) runs here instead, and the kernel schedules this thread beside the
/// pool's, so an answer waits for a time slice, not for the fan-out.
///
/// The thread is one NIO event loop, so the server's sockets can be driven by it as well.
public final class DedicatedThread: TaskExecutor {
    /// The event loop group of one thread; give it to the server as its event loop group.
    public let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop

    public init() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// Stops the thread once nothing runs on it any more.
    public func shutdown() async throws {
        try await group.shutdownGracefully()
    }
}

/// A service whose work, and every child task it starts, prefers a dedicated thread; the thread
/// stops when the service ends.
public struct ServiceOnThread: Service {
    let base: any Service
    let thread: DedicatedThread

    public init(_ base: any Service, thread: DedicatedThread) {
        self.base = base
        self.thread = thread
    }

    public func run() async throws {
        do {
            try await withTaskExecutorPreference(thread) { try await base.run() }
        } catch {
            try? await thread.shutdown()
            throw error
        }
        try await thread.shutdown()
    }
}
