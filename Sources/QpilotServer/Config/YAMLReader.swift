import Foundation
import QpilotAPI
import Yams

/// A strict reader over a composed YAML tree: unknown fields and wrong types are errors that name
/// the line and the field. Yams' Codable decoder reports neither, hence this.
struct YAMLReader {
    let node: Node
    let path: String

    var line: Int? { node.mark.map { $0.line } }

    func error(_ message: String) -> QpilotError { QpilotError(line: line, field: path, message) }

    /// The fields of a mapping, rejecting any not in `allowed`.
    func mapping(allowed: Set<String>) throws(QpilotError) -> [String: YAMLReader] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping (key: value)") }
        var fields: [String: YAMLReader] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw error("keys must be strings") }
            let childPath = path.isEmpty ? name : "\(path).\(name)"
            guard allowed.contains(name) else {
                let known = allowed.sorted().joined(separator: ", ")
                throw QpilotError(
                    line: key.mark?.line, field: childPath, "unknown field '\(name)'; known fields here: \(known)")
            }
            fields[name] = YAMLReader(node: value, path: childPath)
        }
        return fields
    }

    func sequence() throws(QpilotError) -> [YAMLReader] {
        guard case .sequence(let sequence) = node else { throw error("expected a list") }
        return sequence.enumerated().map { YAMLReader(node: $1, path: "\(path)[\($0)]") }
    }

    var isNull: Bool {
        if case .scalar(let scalar) = node { return scalar.tag == Tag(.null) || node.null != nil && scalar.style == .plain }
        return false
    }

    func string() throws(QpilotError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected a string") }
        return scalar.string
    }

    func int() throws(QpilotError) -> Int {
        guard case .scalar = node, let value = node.int else { throw error("expected a whole number") }
        return value
    }

    func bool() throws(QpilotError) -> Bool {
        guard case .scalar = node, let value = node.bool else { throw error("expected true or false") }
        return value
    }

    func oneOf<T: Vocabulary>(_: T.Type) throws(QpilotError) -> T {
        let text = try string()
        do {
            return try T.parse(text)
        } catch {
            throw self.error(error.description)
        }
    }

    func strings() throws(QpilotError) -> [String] {
        var result: [String] = []
        for item in try sequence() { result.append(try item.string()) }
        return result
    }

    /// `host:port`, or `[v6]:port`.
    func hostPort() throws(QpilotError) -> HostPort {
        let text = try string()
        guard let parsed = HostPort(text) else { throw error("expected host:port, such as 127.0.0.1:18000; got '\(text)'") }
        return parsed
    }

    /// An address qpilot listens on: an IP literal and a port; `localhost` means 127.0.0.1.
    func listenAddress() throws(QpilotError) -> HostPort {
        var address = try hostPort()
        if address.host == "localhost" { address.host = "127.0.0.1" }
        guard address.isIPLiteral else {
            throw error("qpilot listens on an IP address, such as 127.0.0.1 or 0.0.0.0; got '\(address.host)'")
        }
        return address
    }

    /// The most values (scalars, lists and mappings) one `config:` may hold once YAML aliases are
    /// expanded. A few lines of anchors and aliases can name billions of values (an "alias
    /// bomb"); the conversion stops here instead of running for hours.
    static let maxJSONValues = 100_000

    /// The subtree as JSON, keys in document order.
    func json() throws(QpilotError) -> String {
        var budget = Self.maxJSONValues
        do {
            return try json(budget: &budget)
        } catch {
            guard budget < 0 else { throw error }
            throw self.error("holds more than \(Self.maxJSONValues) values once YAML aliases are expanded; a middleware's config must be smaller")
        }
    }

    private func json(budget: inout Int) throws(QpilotError) -> String {
        budget -= 1
        guard budget >= 0 else { throw error("too many values") }
        switch node {
        case .scalar(let scalar):
            if isNull { return "null" }
            if scalar.style == .plain {
                if let value = node.bool { return value ? "true" : "false" }
                if let value = node.int { return String(value) }
                if let value = node.float, value.isFinite { return String(value) }
            }
            return Self.quote(scalar.string)
        case .sequence:
            var items: [String] = []
            for item in try sequence() { items.append(try item.json(budget: &budget)) }
            return "[" + items.joined(separator: ",") + "]"
        case .mapping(let mapping):
            var items: [String] = []
            for (key, value) in mapping {
                guard let name = key.string else { throw error("keys must be strings") }
                items.append(Self.quote(name) + ":" + (try YAMLReader(node: value, path: "\(path).\(name)").json(budget: &budget)))
            }
            return "{" + items.joined(separator: ",") + "}"
        case .alias:
            throw error("YAML aliases are not supported here")
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A host and port, as written in qpilot.yaml.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let number = Int(port), (0...65535).contains(number) else { return nil }
        self.host = String(host)
        self.port = number
    }

    /// True for an IPv4 or IPv6 literal.
    public var isIPLiteral: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// True for `localhost` and loopback literals (127.0.0.0/8, ::1): only this machine reaches them.
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        var v4 = in_addr()
        guard inet_pton(AF_INET, host, &v4) == 1 else { return false }
        return UInt32(bigEndian: v4.s_addr) >> 24 == 127
    }
}
