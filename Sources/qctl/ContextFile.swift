import Foundation
import YAMLGuard
import Yams

/// `$XDG_CONFIG_HOME/qctl/config.yaml` (else `~/.config/qctl/config.yaml`): the server and token
/// file to use when neither a flag nor an environment variable names them.
///
/// ```yaml
/// server: http://127.0.0.1:18001
/// tokenFile: /var/lib/qpilot/admin-tokens
/// ```
struct ContextFile: Equatable {
    static let keys = ["server", "tokenFile"]

    /// Where it was read from, to name it in messages.
    var path: String
    var server: String?
    /// Absolute; a relative path in the file is relative to the file's directory.
    var tokenFile: String?

    /// Where qctl looks, from `$XDG_CONFIG_HOME` or `$HOME` (not the password database, so that a
    /// changed `HOME` is honoured as shells and tests expect).
    static func location(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg).appendingPathComponent("qctl/config.yaml").path
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".config/qctl/config.yaml").path
    }

    /// The file, or nil when there is none; a file that exists but is wrong is an error.
    static func load() throws -> ContextFile? {
        let path = location()
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw QctlError("cannot read \(path)")
        }
        return try parse(text, path: path)
    }

    static func parse(_ text: String, path: String) throws -> ContextFile {
        let root: Node?
        do {
            root = try YAMLGuard.compose(text)
        } catch let error as YAMLGuard.TooLarge {
            throw QctlError("\(path): \(error)")
        } catch {
            throw QctlError("\(path) is not valid YAML: \(error)")
        }
        var context = ContextFile(path: path)
        guard let root else { return context }
        guard case .mapping(let mapping) = root else {
            throw QctlError("\(path) must be a mapping with the keys \(keys.joined(separator: ", "))")
        }
        for (key, value) in mapping {
            let name = key.string ?? "\(key)"
            guard keys.contains(name) else {
                // A misspelt key would otherwise be ignored and qctl would talk to the default server.
                throw QctlError("\(path): unknown key '\(name)'; the known keys are \(keys.joined(separator: ", "))")
            }
            guard case .scalar(let scalar) = value, !scalar.string.isEmpty else {
                throw QctlError("\(path): \(name) must be a non-empty string")
            }
            switch name {
            case "server":
                context.server = scalar.string
            default:
                let expanded = NSString(string: scalar.string).expandingTildeInPath
                context.tokenFile = expanded.hasPrefix("/")
                    ? expanded
                    : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(expanded).path
            }
        }
        return context
    }
}
