import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import QpilotAPI

/// A refusal the admin API answers with `{code, message, details}` and an HTTP status. Routes
/// and backends simply throw it: Hummingbird renders it as a response.
public struct AdminError: HTTPResponseError, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// From the catalogue in QpilotAPI, so qctl switches on the same values.
    public var code: APIErrorCode
    /// What happened and what to do.
    public var message: String
    public var details: [String: String]?

    public init(_ status: HTTPResponse.Status, _ code: APIErrorCode, _ message: String, details: [String: String]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(message) (\(code))" }

    public var body: APIErrorBody { APIErrorBody(code: code, message: message, details: details) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try AdminAPI.json(body, status: status)
    }
}

extension AdminError {
    public static func invalid(_ message: String) -> AdminError { AdminError(.badRequest, .invalid, message) }
    static func badRequest(_ message: String) -> AdminError { AdminError(.badRequest, .badRequest, message) }
    public static func store(_ message: String) -> AdminError { AdminError(.serviceUnavailable, .store, message) }
    public static func notFound(_ message: String) -> AdminError { AdminError(.notFound, .notFound, message) }
}
