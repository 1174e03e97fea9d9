/// One internal key: who it stands for, the real key it unlocks, and what it may do.
public struct KeyEntry: Equatable, Sendable {
    /// A name for logs, metrics and errors. The keys themselves never appear anywhere.
    public var name: String
    /// The key internal services send.
    public var internalKey: [UInt8]
    /// The key the upstream gets instead.
    public var realKey: String
    /// What the key may do; any one rule allowing a request is enough.
    public var rules: [AccessRule]
    /// Where to put the real key, when not where the internal key came from.
    public var injectHeader: String?
    /// The scheme before the real key in ``injectHeader`` ("Bearer"), if any.
    public var injectScheme: String?

    /// Creates an entry.
    public init(name: String, internalKey: String, realKey: String, rules: [AccessRule], injectHeader: String? = nil, injectScheme: String? = nil) {
        self.name = name
        self.internalKey = Array(internalKey.utf8)
        self.realKey = realKey
        self.rules = rules
        self.injectHeader = injectHeader
        self.injectScheme = injectScheme
    }
}

/// The outcome of checking one request's key.
public enum KeyDecision: Equatable, Sendable {
    /// The key is not configured.
    case unknownKey
    /// Allowed by rule `rule` of key `key`.
    case allowed(key: Int, rule: Int)
    /// Refused; `reason` names the key and what failed, never the key itself.
    case denied(key: Int, reason: String)
}

/// The configured keys and the decision for a request.
public struct KeyPolicy: Equatable, Sendable {
    /// The keys, in configuration order.
    public var keys: [KeyEntry]

    /// Creates a policy.
    public init(keys: [KeyEntry]) {
        self.keys = keys
    }

    /// The index of the entry whose internal key is `presented`. Every entry is compared in full
    /// so that timing does not tell how much of a key was right.
    public func index(of presented: [UInt8]) -> Int? {
        var found: Int? = nil
        for (index, entry) in keys.enumerated() where KeyPolicy.constantTimeEquals(entry.internalKey, presented) {
            found = index
        }
        return found
    }

    /// Decides whether `presented` may send `method` to `authority` and `path`.
    public func decide(presented: [UInt8], method: String, authority: String, path: String) -> KeyDecision {
        guard let keyIndex = index(of: presented) else { return .unknownKey }
        let entry = keys[keyIndex]
        var best = AccessRule.Check.domainRefused
        var bestRule = 0
        for (ruleIndex, rule) in entry.rules.enumerated() {
            let check = rule.check(method: method, authority: authority, path: path)
            if check == .allowed {
                return .allowed(key: keyIndex, rule: ruleIndex)
            }
            if check > best {
                best = check
                bestRule = ruleIndex
            }
        }
        let host = DomainPattern.stripPort(authority)
        let rule = entry.rules.isEmpty ? nil : entry.rules[bestRule]
        let ruleName = "rule \(bestRule + 1)"
        let reason: String
        switch best {
        case .domainRefused:
            let allowed = entry.rules.flatMap { $0.domains.map { $0.pattern } }
            reason = "key '\(entry.name)' may not call host \(host) (allowed hosts: \(allowed.joined(separator: ", ")))"
        case .methodRefused:
            reason = "key '\(entry.name)' may not use method \(method) on \(host) (\(ruleName) allows \((rule?.methods ?? []).joined(separator: ", ")))"
        case .pathRefused:
            reason = "key '\(entry.name)' may not call \(AccessRule.stripQuery(path)) on \(host) with \(method) (\(ruleName) allows \((rule?.paths ?? []).map { $0.pattern }.joined(separator: ", ")))"
        case .allowed:
            reason = ""
        }
        return .denied(key: keyIndex, reason: reason)
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            let left = index < a.count ? a[index] : 0
            let right = index < b.count ? b[index] : 0
            difference |= left ^ right
        }
        return difference == 0 && a.count == b.count
    }
}
