import Foundation
import ServiceLifecycle
import UnixSignals

/// Reloads qpilot.yaml when it changes on disk (checked every `interval`) or on SIGHUP, and
/// reconciles again every `refresh` while some middleware has `pullPolicy: Always`.
public struct ConfigWatchService: Service {
    let writer: ChainWriter
    let interval: Duration
    let refresh: Duration

    public init(writer: ChainWriter, interval: Duration = .seconds(1), refresh: Duration = .seconds(60)) {
        self.writer = writer
        self.interval = interval
        self.refresh = refresh
    }

    public func run() async throws {
        await writer.reloadIfChanged()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let signals = await UnixSignalsSequence(trapping: .sighup)
                for await _ in signals.cancelOnGracefulShutdown() {
                    await writer.reload()
                }
            }
            group.addTask {
                var lastRefresh = ContinuousClock.now
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: interval)
                    await writer.reloadIfChanged()
                    if ContinuousClock.now - lastRefresh >= refresh {
                        lastRefresh = ContinuousClock.now
                        if await writer.needsRefresh { await writer.reload() }
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}
