import Foundation
import Testing

extension Integration {
    /// docs/api.md's "A session with curl", run as written: every `sh` block in order, in one
    /// shell from the repository root, each block's output compared with the block the page shows
    /// after it. Only what differs from run to run is masked: dates, token fingerprints, the
    /// repository's path, and counters in /metrics.
    @Suite("Docs run as written")
    struct DocsSessionTests {
        /// One `sh` block and the output the page shows for it, if any.
        struct Step {
            var commands: String
            var expected: String?
        }

        static func steps(in markdown: String, from start: String, to end: String) throws -> [Step] {
            let lines = markdown.components(separatedBy: "\n")
            let first = try #require(lines.firstIndex(of: start), "no '\(start)' heading")
            let last = try #require(lines[first...].firstIndex(of: end), "no '\(end)' heading")
            var steps: [Step] = []
            var index = first
            while index < last {
                let line = lines[index]
                guard line.hasPrefix("```") else {
                    index += 1
                    continue
                }
                let close = try #require(lines[(index + 1)...].firstIndex(of: "```"), "an unclosed block at line \(index + 1)")
                let body = lines[(index + 1)..<close].joined(separator: "\n")
                if line == "```sh" {
                    steps.append(Step(commands: body))
                } else if !steps.isEmpty, steps[steps.count - 1].expected == nil {
                    steps[steps.count - 1].expected = body
                }
                index = close + 1
            }
            return steps
        }

        /// What may differ between two honest runs, masked; white space does not count (curl
        /// prints no newline after a body).
        static func normalized(_ text: String, repository: String) -> String {
            // curl's header lines end in CRLF, which Swift reads as one character.
            var text = String(String.UnicodeScalarView(text.unicodeScalars.filter { $0 != "\r" }))
            text = text.replacingOccurrences(of: repository, with: "<repository>")
                .replacingOccurrences(of: "/work/main", with: "<repository>")
            text = text.components(separatedBy: "\n")
                .filter { !$0.hasPrefix("Date:") && !$0.hasPrefix("Content-Length:") }
                .joined(separator: "\n")
            text = text.replacing(#/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/#, with: "<time>")
            text = text.replacing(#/token [0-9a-f]{8}/#, with: "token <fingerprint>")
            return text.filter { !$0.isWhitespace }
        }

        /// Whether `actual` reads as `expected`, where an ellipsis (…) on the page stands for any text.
        static func matches(_ actual: String, _ expected: String) -> Bool {
            let parts = expected.components(separatedBy: "…")
            guard parts.count > 1 else { return actual == expected }
            guard actual.hasPrefix(parts[0]), let last = parts.last, actual.hasSuffix(last) else { return false }
            var rest = actual.dropFirst(parts[0].count).dropLast(last.count)
            for part in parts.dropFirst().dropLast() {
                guard let range = rest.range(of: part) else { return false }
                rest = rest[range.upperBound...]
            }
            return true
        }

        /// Metrics: the page shows some series; each must exist (its count is the run's own).
        static func series(_ text: String) -> Set<String> {
            Set(
                text.components(separatedBy: "\n").filter { !$0.isEmpty && !$0.hasPrefix("#") }
                    .compactMap { $0.split(separator: " ").first.map(String.init) })
        }

        @Test("docs/api.md: the curl session")
        func apiSession() throws {
            let repository = Paths.repository.path
            let markdown = try String(contentsOf: Paths.repository.appendingPathComponent("docs/api.md"), encoding: .utf8)
            let steps = try Self.steps(in: markdown, from: "## A session with curl", to: "## Errors")
            #expect(steps.count >= 20, "found only \(steps.count) command blocks")
            #expect(steps.last?.commands.contains("kill %1") == true, "the session stops its qpilot")

            // One shell for the whole session, a marker before each block's output. The build
            // step is the test's own (it holds the build already; a nested `swift build` would
            // wait for the lock `swift test` holds).
            var script = "set -e\nrm -rf /tmp/qpilot-api\ntrap 'kill %1 2>/dev/null || true' EXIT\n"
            for (index, step) in steps.enumerated() {
                let commands = step.commands.components(separatedBy: "\n")
                    .map { $0.hasPrefix("swift build") ? ": \($0)" : $0 }.joined(separator: "\n")
                script += "printf '\\n@@step \(index)@@\\n'\n\(commands)\n"
            }
            let run = try shell(script, in: Paths.repository)
            #expect(run.status == 0, "the session stopped: \(run.stderr)")

            let outputs = run.stdout.components(separatedBy: "@@step ").dropFirst().map { chunk in
                String(chunk.drop(while: { $0 != "\n" }).dropFirst())
            }
            #expect(outputs.count == steps.count, "every block ran")
            for (index, (step, output)) in zip(steps, outputs).enumerated() {
                guard let expected = step.expected else { continue }
                if expected.hasPrefix("# TYPE") {
                    let missing = Self.series(expected).subtracting(Self.series(output))
                    #expect(missing.isEmpty, "block \(index): /metrics lacks \(missing.sorted())")
                    continue
                }
                #expect(
                    Self.matches(Self.normalized(output, repository: repository), Self.normalized(expected, repository: repository)),
                    "block \(index):\n\(step.commands)\n--- the page shows:\n\(expected)\n--- it printed:\n\(output)")
            }
        }
    }
}

/// Runs a bash script; its stdout, stderr and exit status.
func shell(_ script: String, in directory: URL) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", script]
    process.currentDirectoryURL = directory
    let out = Pipe()
    // stderr into a file, so that neither stream can fill a pipe while the other is read.
    let errorLog = FileManager.default.temporaryDirectory.appendingPathComponent("shell-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errorLog) }
    process.standardOutput = out
    process.standardError = try FileHandle(forWritingTo: errorLog)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let errors = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
    return (process.terminationStatus, String(decoding: output, as: UTF8.self), errors)
}
