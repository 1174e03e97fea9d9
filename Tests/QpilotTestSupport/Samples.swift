import Foundation
import QpilotAPI
import Translator
import WAT

/// Small, real inputs that several test targets share: a module the validator accepts, and a
/// desired state with two middleware.
public enum Samples {
    /// The smallest module qpilot's validator accepts (an ABI marker and an allocator), with `tag`
    /// in a custom section, so different tags give different hashes.
    public static func wasm(_ tag: String = "") -> Data {
        let module = try! wat2wasm("""
            (module
              (memory (export "memory") 1)
              (func (export "proxy_abi_version_0_2_1"))
              (func (export "malloc") (param i32) (result i32) (i32.const 0)))
            """)
        // A custom section (id 0): size, then the name's length and bytes, then the payload.
        let name = Array("qpilot.test".utf8)
        let payload = Array(tag.utf8)
        let body = [UInt8(name.count)] + name + payload
        precondition(body.count < 128, "keep test tags short")
        return Data(module + [0x00, UInt8(body.count)] + body)
    }

    public static func desiredState(
        middleware: [Middleware] = [
            Middleware(name: "auth", sha256: String(repeating: "a", count: 64), delivery: .inline(wasm("auth")), phase: .authn),
            Middleware(name: "stats", sha256: String(repeating: "b", count: 64), delivery: .remote, phase: .stats),
        ]
    ) -> DesiredState {
        DesiredState(
            egress: .init(address: "127.0.0.1", port: 10000),
            callout: .init(),
            moduleEndpoint: .init(host: "127.0.0.1", port: 18002),
            middleware: middleware)
    }
}

extension Array {
    /// The single element, or nil when there are zero or several.
    public var only: Element? { count == 1 ? first : nil }
}
