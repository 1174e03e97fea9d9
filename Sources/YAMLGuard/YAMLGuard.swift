import CYaml
import Yams

/// YAML that qpilot and qctl read, composed only once it is known to be small. Both read YAML
/// that someone else may have written (qpilot.yaml, files given to `qctl apply -f`).
///
/// How many values a YAML text holds once its aliases are expanded, counted on libyaml's event
/// stream (Yams' own parser, underneath it) without building anything. A few lines of anchors and
/// aliases can stand for billions of values (an "alias bomb"), and composing them hangs: Yams
/// hashes a mapping's keys to find duplicates, and a key made of aliases is hashed whole. So
/// the text is counted first, and refused past `limit`.
///
/// CYaml is Yams' bundled libyaml target; it is not a product of its own, but it is in the build
/// because Yams is.
public enum YAMLGuard {
    /// Far above any real qpilot.yaml or apply file (a few hundred values), far below a stall.
    public static let maxValues = 1_000_000

    /// Too many values once aliases are expanded.
    public struct TooLarge: Error, CustomStringConvertible {
        public var description: String {
            "it holds more than \(YAMLGuard.maxValues) values once its YAML aliases (&anchor, *alias) are expanded; write the values out instead"
        }
    }

    /// `Yams.compose`, after the count: throws `TooLarge` past `maxValues`, and Yams' own errors.
    public static func compose(_ text: String) throws -> Node? {
        guard expandedCount(text) != nil else { throw TooLarge() }
        return try Yams.compose(yaml: text)
    }

    /// The expanded count, or nil past `limit`. A text libyaml cannot parse counts as 0: the
    /// YAML parser that runs next reports it with its line.
    public static func expandedCount(_ text: String, limit: Int = maxValues) -> Int? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return 0 }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buffer -> Int? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var anchors: [String: Int] = [:]
            var open: [(anchor: String?, count: Int)] = []  // the collections being read, innermost last
            var total = 0
            func add(_ count: Int) {
                if open.isEmpty {
                    total = min(limit + 1, total + count)
                } else {
                    open[open.count - 1].count = min(limit + 1, open[open.count - 1].count + count)
                }
            }
            func name(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
                pointer.map { String(cString: UnsafePointer($0)) }
            }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return 0 }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return total
                case YAML_SCALAR_EVENT:
                    if let anchor = name(event.data.scalar.anchor) { anchors[anchor] = 1 }
                    add(1)
                case YAML_ALIAS_EVENT:
                    add(name(event.data.alias.anchor).flatMap { anchors[$0] } ?? 1)
                case YAML_SEQUENCE_START_EVENT:
                    open.append((name(event.data.sequence_start.anchor), 1))
                case YAML_MAPPING_START_EVENT:
                    open.append((name(event.data.mapping_start.anchor), 1))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let closed = open.popLast() else { return 0 }
                    if let anchor = closed.anchor { anchors[anchor] = closed.count }
                    add(closed.count)
                default:
                    break
                }
                if total > limit || (open.last?.count ?? 0) > limit { return nil }
            }
        }
    }
}
