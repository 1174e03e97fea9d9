import Foundation

/// One write to the desired chain, as the routes receive it.
public enum ChainWrite: Sendable, Equatable {
    /// `PUT /v1/middleware/<name>`: create or replace.
    case put(MiddlewareSpec)
    /// `POST /v1/middleware`: create; a name that exists is a conflict.
    case create(MiddlewareSpec)
    case delete(name: String)
    case setEnabled(name: String, enabled: Bool)
    /// `POST /v1/apply`: the whole chain.
    case apply([MiddlewareSpec])
    /// `POST /v1/revisions/<n>/rollback`: the chain of revision n, as a new revision.
    case rollback(to: Int)
}

/// Who is writing: recorded as a revision's author.
public struct WriteActor: Sendable, Equatable, CustomStringConvertible {
    /// What the client says (qctl sends `user@host`), when it says anything.
    public var claimed: String?
    /// The first 8 hex digits of the token's sha256: which token wrote, without the token.
    public var tokenFingerprint: String

    public init(claimed: String?, tokenFingerprint: String) {
        self.claimed = claimed
        self.tokenFingerprint = tokenFingerprint
    }

    public var description: String {
        if let claimed, !claimed.isEmpty { return "\(claimed) (token \(tokenFingerprint))" }
        return "token \(tokenFingerprint)"
    }
}
