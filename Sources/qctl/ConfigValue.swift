import Foundation
import QpilotAPI
import YAMLGuard
import Yams

/// Turns the text of `--config` or `--config-file` into the `config` a middleware receives.
enum ConfigValue {
    /// JSON when it parses as JSON; else (with `yaml`) YAML when it is a YAML mapping or list,
    /// converted to JSON; else the text as a string, because many modules take a plain string.
    static func parse(_ text: String, origin: String, yaml: Bool = true) throws(QctlError) -> JSONValue {
        if let json = try? APIJSON.decoder().decode(JSONValue.self, from: Data(text.utf8)) { return json }
        if yaml, let node = try? YAMLGuard.compose(text) {
            switch node {
            case .mapping, .sequence: return try YAMLJSON.value(node, path: origin)
            default: break
            }
        }
        // Text that opens like JSON but parses as neither is a typo, not a string the module wants.
        let opening = text.trimmingCharacters(in: .whitespacesAndNewlines).first
        if opening == "{" || opening == "[" {
            var problem = "not valid JSON"
            do {
                _ = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            } catch {
                problem = DecodingProblem.describe(error)
            }
            throw QctlError("\(origin) starts like JSON but is not valid JSON\(yaml ? " or YAML" : ""): \(problem)")
        }
        return .string(text)
    }
}

/// YAML to JSON values, the way qpilot reads `config:` in qpilot.yaml: only plain (unquoted)
/// scalars become booleans, numbers or null; a quoted `"8080"` stays a string.
enum YAMLJSON {
    static func value(_ node: Node, path: String) throws(QctlError) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                if node.null != nil { return .null }
                if let value = node.bool { return .bool(value) }
                if let value = node.int { return .number(Double(value)) }
                if let value = node.float, value.isFinite { return .number(value) }
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for (index, item) in sequence.enumerated() { items.append(try value(item, path: "\(path)[\(index)]")) }
            return .array(items)
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, item) in mapping {
                guard case .scalar(let name) = key else { throw QctlError("\(path): keys must be strings") }
                object[name.string] = try value(item, path: "\(path).\(name.string)")
            }
            return .object(object)
        case .alias:
            throw QctlError("\(path): YAML aliases are not supported")
        }
    }

    /// A whole document, as JSON bytes for a Decodable type with the API's own strict decoding.
    static func data(_ text: String, origin: String) throws(QctlError) -> Data {
        // JSON first: it is what most tools write, and its errors are the clearer ones.
        if (try? JSONSerialization.jsonObject(with: Data(text.utf8))) != nil { return Data(text.utf8) }
        let node: Node?
        do {
            node = try YAMLGuard.compose(text)
        } catch let error as YAMLGuard.TooLarge {
            throw QctlError("\(origin): \(error)")
        } catch {
            throw QctlError("\(origin) is neither JSON nor YAML: \(error)")
        }
        guard let node else { throw QctlError("\(origin) is empty") }
        do {
            return try JSONEncoder().encode(try value(node, path: origin))
        } catch let error as QctlError {
            throw error
        } catch {
            throw QctlError("\(origin): \(error)")
        }
    }
}
