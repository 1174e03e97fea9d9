import PIIGuardLogic
import Testing

@Suite("pii-guard configuration")
struct ConfigTests {
    func parse(_ text: String) -> Result<PIIGuardConfig, ConfigError> {
        PIIGuardConfig.parse(Array(text.utf8))
    }

    @Test("mode alone turns on every built-in detector, on request bodies")
    func defaults() throws {
        let config = try parse(#"{"mode": "scrub"}"#).get()
        #expect(config.mode == .scrub)
        #expect(config.detector == PIIDetector())
        #expect(config.scope == .requestBody)
        #expect(config.maxBodyBytes == PIIGuardConfig.defaultMaxBodyBytes)
        #expect(config.oversizePolicy == .block)
        #expect(config.maskCharacter == UInt8(ascii: "*"))
    }

    @Test("reads every field")
    func everyField() throws {
        let config = try parse("""
            {"mode": "report", "detectors": ["email"], "scan": ["query", "headers", "responseBody"],
             "customPatterns": ["Falcon", {"name": "codename", "literal": "Nightjar", "caseSensitive": true}],
             "maxBodyBytes": 4096, "oversizePolicy": "pass", "maskCharacter": "#", "metricPrefix": "pii.egress"}
            """).get()
        #expect(config.mode == .report)
        #expect(!config.detector.cards && config.detector.emails && !config.detector.ssns)
        #expect(config.detector.literals == [
            LiteralPattern(name: "custom_0", literal: "Falcon"),
            LiteralPattern(name: "codename", literal: "Nightjar", caseSensitive: true),
        ])
        #expect(config.scope == [.query, .headers, .responseBody])
        #expect(config.maxBodyBytes == 4096)
        #expect(config.oversizePolicy == .pass)
        #expect(config.maskCharacter == UInt8(ascii: "#"))
        #expect(config.metricPrefix == "pii.egress")
    }

    @Test("refuses mistakes with a message naming the field", arguments: [
        ("", "invalid JSON"),
        ("[]", "must be a JSON object"),
        ("{}", "'mode' is required"),
        (#"{"mode": "scrubb"}"#, "'mode' must be"),
        (#"{"mode": "scrub", "mdoe": 1}"#, "unknown field 'mdoe'"),
        (#"{"mode": "scrub", "detectors": ["iban"]}"#, "unknown detector \"iban\""),
        (#"{"mode": "scrub", "detectors": "card"}"#, "'detectors' must be an array"),
        (#"{"mode": "scrub", "scan": ["body"]}"#, "unknown part \"body\""),
        (#"{"mode": "scrub", "maxBodyBytes": -1}"#, "'maxBodyBytes' must be a positive integer"),
        (#"{"mode": "scrub", "oversizePolicy": "drop"}"#, "'oversizePolicy' must be"),
        (#"{"mode": "scrub", "maskCharacter": "**"}"#, "'maskCharacter' must be one"),
        (#"{"mode": "scrub", "customPatterns": [""]}"#, "'customPatterns'[0] is empty"),
        (#"{"mode": "scrub", "customPatterns": [{"name": "x"}]}"#, "needs a non-empty \"literal\""),
        (#"{"mode": "scrub", "metricPrefix": "a b"}"#, "'metricPrefix' must be"),
    ])
    func refuses(text: String, message: String) {
        switch parse(text) {
        case .success:
            Issue.record("accepted \(text)")
        case .failure(let error):
            #expect(error.message.contains(message), "\(error.message)")
        }
    }
}
