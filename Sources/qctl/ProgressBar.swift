import Foundation
import Synchronization

/// A one-line download progress bar on standard error, shown only when it is a terminal.
final class ProgressBar: Sendable {
    let label: String
    let isEnabled: Bool
    private let state = Mutex<(drawn: Bool, last: ContinuousClock.Instant?)>((false, nil))

    init(label: String) {
        self.label = label
        isEnabled = isatty(STDERR_FILENO) == 1
    }

    func update(_ received: Int, of total: Int?) {
        let now = ContinuousClock.now
        let draw = state.withLock { state -> Bool in
            if let last = state.last, now - last < .milliseconds(100), total.map({ received < $0 }) ?? true { return false }
            state = (true, now)
            return true
        }
        guard draw else { return }
        let line: String
        if let total, total > 0 {
            let fraction = min(1, Double(received) / Double(total))
            let filled = Int(fraction * 30)
            line = "\(label) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: 30 - filled))] "
                + "\(Int(fraction * 100))% \(Self.megabytes(received))/\(Self.megabytes(total))"
        } else {
            line = "\(label) \(Self.megabytes(received))"
        }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    }

    func finish() {
        if state.withLock({ $0.drawn }) { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }
}
