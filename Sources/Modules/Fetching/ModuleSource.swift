import Foundation

/// Where a module comes from, parsed from the `source` a user wrote.
public enum ModuleSource: Sendable, Equatable, CustomStringConvertible {
    /// A local file (a plain path or `file://`).
    case file(URL)
    /// `http://` or `https://`, returning `.wasm`, `.tar.gz` or `.tgz`.
    case http(URL)
    /// `oci://host[:port]/repository:tag` or `…@sha256:<hex>`.
    case oci(OCIReference)

    /// Parses a source. Relative paths resolve against `base` (qpilot.yaml's directory).
    public init(parsing text: String, relativeTo base: URL? = nil) throws(ModuleError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw ModuleError("a module source is empty; give a path, an http(s):// URL or an oci:// reference") }
        if trimmed.hasPrefix("oci://") {
            self = .oci(try OCIReference(parsing: String(trimmed.dropFirst("oci://".count))))
        } else if trimmed.hasPrefix("http://") || trimmed.hasPrefix("https://") {
            guard let url = URL(string: trimmed), url.host != nil else {
                throw ModuleError("'\(trimmed)' is not a valid URL")
            }
            self = .http(url)
        } else if trimmed.hasPrefix("file://") {
            self = .file(URL(fileURLWithPath: String(trimmed.dropFirst("file://".count))))
        } else if let scheme = trimmed.range(of: "://") {
            throw ModuleError(
                "unsupported scheme '\(trimmed[..<scheme.lowerBound])://' in '\(trimmed)'; use a path, file://, http(s):// or oci://")
        } else if let base, !trimmed.hasPrefix("/") {
            self = .file(base.appendingPathComponent(trimmed).standardizedFileURL)
        } else {
            self = .file(URL(fileURLWithPath: trimmed).standardizedFileURL)
        }
    }

    public var description: String {
        switch self {
        case .file(let url): url.path
        case .http(let url): url.absoluteString
        case .oci(let reference): "oci://\(reference)"
        }
    }

    /// True when fetching twice may give different bytes (a tag, or a URL).
    public var isMutable: Bool {
        switch self {
        case .file, .http: true
        case .oci(let reference): reference.digest == nil
        }
    }
}

/// Limits that keep a fetch from exhausting the server.
public struct FetchLimits: Sendable, Equatable {
    /// Largest module, in bytes (256 MiB by default).
    public var maxModuleBytes: Int
    /// Largest download before decompression, and largest decompressed archive, in bytes.
    public var maxDecompressedBytes: Int
    /// Deadline for one HTTP request.
    public var timeout: Duration
    /// Attempts for a 5xx or a connection error, with exponential backoff between them.
    public var attempts: Int
    /// First backoff delay; it doubles each time.
    public var backoff: Duration
    /// Allow fetching from loopback addresses (tests, a local registry). Link-local and cloud
    /// metadata addresses are refused always.
    public var allowLoopback: Bool
    /// The slowest a body may arrive, on average, once `timeout` has passed since it started: a
    /// source that drips bytes is given up on rather than holding a reload or a write.
    public var minimumBytesPerSecond = 16 * 1024
    /// Host names (`registry.internal`, `*.corp.example`) and IP blocks (`10.20.0.0/16`) that
    /// fetches may reach although they resolve to private addresses (or loopback, where loopback
    /// is not allowed). Everything else private is refused.
    public var allowPrivate: [String] = []
    /// Directories that file sources must lie in, after symbolic links are followed; nil for
    /// any path. Sources that the admin API hands in are confined (`modules.sourceDirs`), so a
    /// request cannot make the server read, or learn about, a file of its choosing.
    public var fileDirectories: [URL]?

    /// Why `entry` cannot be on `allowPrivate`, or nil when it can.
    public static func problem(allowPrivate entry: String) -> String? { AddressPolicy.problem(allowEntry: entry) }

    public init(
        maxModuleBytes: Int = 256 * 1024 * 1024, maxDecompressedBytes: Int = 512 * 1024 * 1024,
        timeout: Duration = .seconds(60), attempts: Int = 4, backoff: Duration = .milliseconds(500),
        allowLoopback: Bool = true
    ) {
        self.maxModuleBytes = maxModuleBytes
        self.maxDecompressedBytes = maxDecompressedBytes
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.allowLoopback = allowLoopback
    }
}
