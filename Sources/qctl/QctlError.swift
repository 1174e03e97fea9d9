import Foundation
import QpilotAPI

/// An error qctl reports as `error: <message>` on stderr (plus an optional hint), exiting with `exitCode`.
struct QctlError: Error, CustomStringConvertible {
    /// The exit codes qctl documents, besides 0 (success) and 64 (usage, from ArgumentParser).
    enum Exit: Int32 {
        case failure = 1
        case rolloutFailed = 2
        case timeout = 3
    }

    let description: String
    var details: [String] = []
    var hint: String?
    var exit: Exit = .failure

    init(_ description: String, details: [String] = [], hint: String? = nil, exit: Exit = .failure) {
        self.description = description
        self.details = details
        self.hint = hint
        self.exit = exit
    }

    /// The lines written to stderr.
    var report: String {
        (["error: \(description)"] + details.map { "  \($0)" } + (hint.map { ["hint: \($0)"] } ?? []))
            .joined(separator: "\n")
    }
}

/// A non-2xx answer from the admin API, as `APIErrorBody {code, message, details}`.
struct APIError: Error {
    let status: Int
    let body: APIErrorBody?

    var code: APIErrorCode { body?.code ?? APIErrorCode(rawValue: "http_\(status)") }

    /// The stderr form: `error: <message> (<code>)`, the details, and what to do next when qctl knows.
    var qctlError: QctlError {
        let message = body?.message ?? "qpilot answered HTTP \(status)"
        let details = (body?.details ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        return QctlError("\(message) (\(code))", details: details, hint: hint)
    }

    private var hint: String? {
        switch code {
        case .staleRevision:
            "someone changed the chain since you read it: re-read it with `qctl get`, then retry with --if-match <its revision>"
        case .fileMode:
            "qpilot.yaml has a `middleware:` section, so the chain is managed there; edit that file, or remove the section to manage middleware with qctl"
        case .duplicate:
            "it exists already: replace it with `qctl push` without --create-only"
        case .unauthorized:
            "check --token-file, $QCTL_TOKEN or tokenFile: in \(ContextFile.location()); qpilot's tokens file is <dataDir>/admin-tokens"
        case .missingSecret:
            "create the secret first with `qctl secret set <name> --from-file <file>`"
        case .busy:
            "other changes kept qpilot busy; nothing changed: run the command again"
        default:
            nil
        }
    }
}

/// A DecodingError as one sentence a person can act on.
enum DecodingProblem {
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field '\(key.stringValue)'\(at(context.codingPath))"
        case .typeMismatch(let type, let context):
            return "\(at(context.codingPath, lead: ""))expected \(name(type))"
        case .valueNotFound(let type, let context):
            return "\(at(context.codingPath, lead: ""))expected \(name(type)), found null"
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return "\(at(context.codingPath, lead: ""))\(underlying ?? context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    /// `middleware[2].fleets`, from a coding path.
    static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.reduce("") { text, key in
            if let index = key.intValue { return text + "[\(index)]" }
            return text.isEmpty ? key.stringValue : text + "." + key.stringValue
        }
    }

    private static func at(_ codingPath: [any CodingKey], lead: String = " in ") -> String {
        let text = path(codingPath)
        if text.isEmpty { return "" }
        return lead.isEmpty ? "\(text): " : "\(lead)\(text)"
    }

    private static func name(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        case is Double.Type: "a number"
        default: "\(type)"
        }
    }
}
