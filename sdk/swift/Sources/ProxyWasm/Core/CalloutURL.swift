/// An absolute `http://` or `https://` URL taken apart into what a Proxy-Wasm callout needs:
/// the `:scheme`, `:authority` and `:path` pseudo-headers.
public struct CalloutURL: Equatable, Sendable {
    /// "http" or "https", in lower case.
    public let scheme: String
    /// Host and optional port, as written ("collector.internal:9000", "[::1]:8080").
    public let authority: String
    /// Path and query, "/" when the URL has none. A fragment is dropped.
    public let path: String

    /// Parses `url`. Fails, with a reason, for anything but an absolute http(s) URL with a
    /// host and without user info.
    public static func parse(_ url: String) -> Result<CalloutURL, CalloutURLError> {
        let bytes = Array(url.utf8)
        guard let schemeEnd = firstIndex(of: UInt8(ascii: ":"), in: bytes, from: 0),
            bytes.count >= schemeEnd + 3,
            bytes[schemeEnd + 1] == UInt8(ascii: "/"), bytes[schemeEnd + 2] == UInt8(ascii: "/")
        else {
            return .failure(CalloutURLError("expected an absolute URL such as http://host/path"))
        }
        let scheme = String(decoding: bytes[0..<schemeEnd].map(lowercased), as: UTF8.self)
        guard scheme == "http" || scheme == "https" else {
            return .failure(CalloutURLError("unsupported scheme '\(scheme)', expected http or https"))
        }
        let authorityStart = schemeEnd + 3
        var authorityEnd = authorityStart
        while authorityEnd < bytes.count {
            let byte = bytes[authorityEnd]
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") {
                break
            }
            authorityEnd += 1
        }
        let authorityBytes = Array(bytes[authorityStart..<authorityEnd])
        guard !authorityBytes.isEmpty else {
            return .failure(CalloutURLError("the URL has no host"))
        }
        if authorityBytes.contains(UInt8(ascii: "@")) {
            return .failure(CalloutURLError("user info in a callout URL is not supported; send credentials in a header"))
        }
        for byte in authorityBytes where byte <= 0x20 || byte >= 0x7F {
            return .failure(CalloutURLError("the host contains a space or a non-ASCII character"))
        }
        var pathBytes: [UInt8] = []
        var index = authorityEnd
        while index < bytes.count, bytes[index] != UInt8(ascii: "#") {
            pathBytes.append(bytes[index])
            index += 1
        }
        if pathBytes.isEmpty || pathBytes[0] == UInt8(ascii: "?") {
            pathBytes.insert(UInt8(ascii: "/"), at: 0)
        }
        return .success(
            CalloutURL(
                scheme: scheme,
                authority: String(decoding: authorityBytes, as: UTF8.self),
                path: String(decoding: pathBytes, as: UTF8.self)))
    }

    private static func firstIndex(of byte: UInt8, in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}

/// Why a callout URL was refused.
public struct CalloutURLError: Error, Equatable, Sendable {
    /// A sentence a user can act on.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }
}
