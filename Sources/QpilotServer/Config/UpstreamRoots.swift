import Foundation
import PKI
import Translator

/// `tls.upstreamCA`: the authorities Envoy trusts for origins, besides the system bundle.
enum UpstreamRoots {
    /// The file's certificates followed by the system bundle of qpilot's machine (when it has
    /// one), as one PEM for Envoy: Envoy's `trusted_ca` takes a single source, so adding roots
    /// to the system ones means sending both.
    static func read(_ url: URL, field reader: YAMLReader) throws(QpilotError) -> String {
        let given: String
        do {
            given = try TrustedRoots.read(url, field: "tls.upstreamCA")
        } catch {
            throw reader.error(error.description)
        }
        let system = URL(fileURLWithPath: DesiredState.TLS.systemBundle)
        guard let bundle = try? TrustedRoots.read(system, field: "system bundle") else { return given }
        return given + (given.hasSuffix("\n") ? "" : "\n") + bundle
    }
}
