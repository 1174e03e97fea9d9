import ProxyWasm

/// One exchange through pii-guard.
///
/// Report mode streams: each body chunk goes through a ``StreamScanner`` and on to the upstream
/// at once. Scrub and block modes buffer the body (up to `maxBodyBytes`), scan it whole at the
/// end of the stream, then mask it in place or answer 403.
///
/// The headers go on before the body is checked: Proxy-Wasm cannot hold headers while still
/// receiving the body (a paused header step stops the body too). So a body that is blocked has
/// had its headers sent upstream, then the upstream request is reset and never gets the body;
/// and masks keep the body's length, so the `content-length` already sent stays right.
final class PIIGuardExchange: HTTPContext {
    private enum BodyState {
        /// Not scanned (not configured, no body, or passed because too large).
        case ignored
        /// Report mode: scanned chunk by chunk.
        case streaming(StreamScanner)
        /// Scrub or block mode: buffered until the end of the stream.
        case buffering
    }

    private let config: PIIGuardConfig
    private let metrics: PIIGuardMetrics
    private var found: FindingCounts
    private var request = BodyState.ignored
    private var response = BodyState.ignored
    private var blocked = false
    /// A CONNECT: what follows the headers is a tunnel (TLS, most often), not an HTTP body.
    private var tunnel = false

    init(config: PIIGuardConfig, metrics: PIIGuardMetrics) {
        self.config = config
        self.metrics = metrics
        self.found = FindingCounts(customPatternCount: config.detector.literals.count)
    }

    // MARK: Request

    override func onRequestHeaders(headerCount: Int, endOfStream: Bool) -> Action {
        // A tunnel's bytes are opaque: buffering them for a scan would stall the tunnel, and a
        // mask would corrupt it. HTTPS through an intercepted name is scanned after decryption.
        if requestHeaders[":method"] == "CONNECT" {
            tunnel = true
            return .continue
        }
        if config.scope.contains(.query), let path = requestHeaders[":path"] {
            let mask: UInt8? = config.mode == .scrub ? config.maskCharacter : nil
            let result = QueryString.scan(path: path, detector: config.detector, mask: mask)
            if result.counts.total > 0 {
                if let blockedAction = record(result.counts, in: "query") {
                    return blockedAction
                }
                if let masked = result.maskedPath {
                    requestHeaders[":path"] = masked
                    metrics.scrubbed.increment()
                }
            }
        }
        if config.scope.contains(.headers), let blockedAction = scanHeaders(requestHeaders, label: "request headers") {
            return blockedAction
        }
        guard config.scope.contains(.requestBody), !endOfStream else {
            return .continue
        }
        return startBody(&request, headers: requestHeaders, label: "request body")
    }

    override func onRequestBody(bodySize: Int, endOfStream: Bool) -> Action {
        continueBody(&request, buffer: requestBody, size: bodySize, endOfStream: endOfStream, label: "request body")
    }

    override func onRequestTrailers(trailerCount: Int) -> Action {
        // Trailers end the stream without a final body step: finish the body here.
        continueBody(&request, buffer: requestBody, size: requestBody.size, endOfStream: true, label: "request body")
    }

    // MARK: Response

    override func onResponseHeaders(headerCount: Int, endOfStream: Bool) -> Action {
        guard config.scope.contains(.responseBody), !endOfStream, !blocked, !tunnel else {
            return .continue
        }
        return startBody(&response, headers: responseHeaders, label: "response body")
    }

    override func onResponseBody(bodySize: Int, endOfStream: Bool) -> Action {
        continueBody(&response, buffer: responseBody, size: bodySize, endOfStream: endOfStream, label: "response body")
    }

    override func onResponseTrailers(trailerCount: Int) -> Action {
        continueBody(&response, buffer: responseBody, size: responseBody.size, endOfStream: true, label: "response body")
    }

    override func onDone() {
        if found.total > 0 {
            metrics.exchangesWithFindings.increment()
            if config.mode == .report {
                Log.info("pii-guard: found \(summary(found)) (report mode, exchange unchanged)")
            }
        }
        metrics.heap.publish()
    }

    // MARK: Bodies

    private func startBody(_ state: inout BodyState, headers: HeaderMap, label: String) -> Action {
        if config.mode == .report {
            state = .streaming(StreamScanner(detector: config.detector))
            return .continue
        }
        if let length = headers["content-length"].flatMap(parseLength), length > config.maxBodyBytes {
            return oversize(&state, label: label, size: length)
        }
        state = .buffering
        return .continue
    }

    private func continueBody(
        _ state: inout BodyState, buffer: BodyBuffer, size: Int, endOfStream: Bool, label: String
    ) -> Action {
        switch state {
        case .ignored:
            return .continue
        case .streaming(var scanner):
            buffer.withBytes(count: size) { scanner.feed($0, endOfStream: endOfStream) }
            if endOfStream {
                state = .ignored
                if scanner.counts.total > 0, let blockedAction = record(scanner.counts, in: label) {
                    return blockedAction
                }
            } else {
                state = .streaming(scanner)
            }
            return .continue
        case .buffering:
            if size > config.maxBodyBytes {
                return oversize(&state, label: label, size: size)
            }
            guard endOfStream else {
                return .pause
            }
            state = .ignored
            var body = buffer.read(count: size)
            let matches = config.detector.matches(in: body)
            if matches.isEmpty {
                return .continue
            }
            var counts = FindingCounts(customPatternCount: config.detector.literals.count)
            counts.add(matches)
            if let blockedAction = record(counts, in: label) {
                return blockedAction
            }
            Masking.mask(&body, matches: matches, with: config.maskCharacter)
            let status = buffer.replace(with: body)
            if status.isOK {
                metrics.scrubbed.increment()
                Log.info("pii-guard: scrubbed \(summary(counts)) in the \(label)")
            } else {
                Log.error("pii-guard: could not replace the \(label) (\(status.name)); blocking instead")
                blocked = true
                return sendLocalResponse(
                    status: 502, body: errorBody("pii-guard could not scrub the \(label)"),
                    headers: [HeaderPair("content-type", "application/json")], details: "pii_guard_scrub_failed")
            }
            return .continue
        }
    }

    private func oversize(_ state: inout BodyState, label: String, size: Int) -> Action {
        state = .ignored
        switch config.oversizePolicy {
        case .pass:
            metrics.oversizePassed.increment()
            Log.warn("pii-guard: \(label) of \(size) bytes exceeds maxBodyBytes \(config.maxBodyBytes); passed unscanned")
            return .continue
        case .block:
            metrics.oversizeBlocked.increment()
            blocked = true
            Log.warn("pii-guard: \(label) of \(size) bytes exceeds maxBodyBytes \(config.maxBodyBytes); blocked")
            return sendLocalResponse(
                status: 413,
                body: errorBody("the \(label) is larger than pii-guard inspects (maxBodyBytes \(config.maxBodyBytes))"),
                headers: [HeaderPair("content-type", "application/json")], details: "pii_guard_oversize")
        }
    }

    // MARK: Headers

    private func scanHeaders(_ map: HeaderMap, label: String) -> Action? {
        var pairs = map.pairs
        var counts = FindingCounts(customPatternCount: config.detector.literals.count)
        var changed = false
        for index in pairs.indices where !pairs[index].name.hasPrefix(":") {
            var value = Array(pairs[index].value.utf8)
            let matches = config.detector.matches(in: value)
            guard !matches.isEmpty else { continue }
            counts.add(matches)
            if config.mode == .scrub {
                Masking.mask(&value, matches: matches, with: config.maskCharacter)
                pairs[index].value = String(decoding: value, as: UTF8.self)
                changed = true
            }
        }
        guard counts.total > 0 else { return nil }
        if let blockedAction = record(counts, in: label) {
            return blockedAction
        }
        if changed {
            map.pairs = pairs
            metrics.scrubbed.increment()
        }
        return nil
    }

    // MARK: Findings

    /// Counts findings; in block mode answers 403 and returns the action to end the step with.
    private func record(_ counts: FindingCounts, in label: String) -> Action? {
        found.add(counts)
        metrics.record(counts)
        guard config.mode == .block else { return nil }
        blocked = true
        metrics.blocked.increment()
        let kinds = counts.kindsFound.map { config.detector.name(of: $0) }
        Log.info("pii-guard: blocked, found \(summary(counts)) in the \(label)")
        var body: [UInt8] = []
        JSONWriter.write(
            .object([
                JSONMember("error", .string("blocked by pii-guard: personal data in the \(label)")),
                JSONMember("found", .array(kinds.map { .string($0) })),
            ]), to: &body)
        return sendLocalResponse(
            status: 403, body: body, headers: [HeaderPair("content-type", "application/json")],
            details: "pii_guard_blocked")
    }

    private func summary(_ counts: FindingCounts) -> String {
        counts.kindsFound.map { "\(config.detector.name(of: $0))=\(counts[$0])" }.joined(separator: " ")
    }

    private func errorBody(_ message: String) -> [UInt8] {
        var body: [UInt8] = []
        JSONWriter.write(.object([JSONMember("error", .string(message))]), to: &body)
        return body
    }

    private func parseLength(_ text: String) -> Int? {
        var value = 0
        for byte in text.utf8 {
            guard ASCII.isDigit(byte), value < Int.max / 10 - 10 else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return text.isEmpty ? nil : value
    }
}
