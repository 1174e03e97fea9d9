import Foundation
import Synchronization

/// A one-line progress indicator on standard error, shown only when it is a terminal.
final class ProgressBar: Sendable {
    let label: String
    let isEnabled: Bool
    private let state = Mutex<(drawn: Bool, last: ContinuousClock.Instant?)>((false, nil))

    init(label: String) {
        self.label = label
        isEnabled = isatty(STDERR_FILENO) == 1
    }

    /// A download's progress: a bar when the total is known, else the bytes so far.
    func update(_ received: Int, of total: Int?) {
        let line: String
        if let total, total > 0 {
            let fraction = min(1, Double(received) / Double(total))
            let filled = Int(fraction * 30)
            line = "\(label) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: 30 - filled))] "
                + "\(Int(fraction * 100))% \(Self.megabytes(received))/\(Self.megabytes(total))"
        } else {
            line = "\(label) \(Self.megabytes(received))"
        }
        draw(line, final: total.map { received >= $0 } ?? false)
    }

    /// Replaces the line; at most every 100 ms unless `final`, so that a fast loop does not flood the terminal.
    func draw(_ line: String, final: Bool = false) {
        guard isEnabled else { return }
        let now = ContinuousClock.now
        let draw = state.withLock { state -> Bool in
            if let last = state.last, now - last < .milliseconds(100), !final { return false }
            state = (true, now)
            return true
        }
        guard draw else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    }

    func finish() {
        if state.withLock({ $0.drawn }) { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }
}
