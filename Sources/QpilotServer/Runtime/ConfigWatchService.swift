import Foundation
import ServiceLifecycle
import UnixSignals

/// Reloads qpilot.yaml when it changes on disk (checked every `interval`) or on SIGHUP.
public struct ConfigWatchService: Service {
    let reconciler: Reconciler
    let interval: Duration

    public init(reconciler: Reconciler, interval: Duration = .seconds(1)) {
        self.reconciler = reconciler
        self.interval = interval
    }

    public func run() async throws {
        reconciler.reloadIfChanged()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let signals = await UnixSignalsSequence(trapping: .sighup)
                for await _ in signals.cancelOnGracefulShutdown() {
                    reconciler.reload()
                }
            }
            group.addTask {
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: interval)
                    reconciler.reloadIfChanged()
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}
