// swift-tools-version:6.1
// Host-side unit tests for the Swift Proxy-Wasm SDK and the middleware built with it.
//
// The SDK and the middleware compile to wasm32 with Embedded Swift (see build.mk); their pure
// parts (the SDK's JSON reader, header-pair encoding and URL parsing; each middleware's
// detectors, rules and windows) also compile here, for the host, so that `swift test` can test
// them. The wasm-only parts (host imports, exports, contexts) are left out.
//
// SwiftPM refuses target paths outside the package directory, so `Middleware` is a symlink to
// the repository's `middleware/` directory.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "ProxyWasmSDK",
    products: [],
    targets: [
        // The host-compilable subset of the SDK module, under the same name so that middleware
        // logic says `import ProxyWasm` in both builds.
        .target(
            name: "ProxyWasm", path: "Sources/ProxyWasm", exclude: ["API", "Host", "Runtime"], sources: ["Core"],
            swiftSettings: strict),
        .testTarget(name: "ProxyWasmTests", dependencies: ["ProxyWasm"], path: "Tests/ProxyWasmTests", swiftSettings: strict),

        .target(name: "PIIGuardLogic", dependencies: ["ProxyWasm"], path: "Middleware/pii-guard/Logic", swiftSettings: strict),
        .testTarget(name: "PIIGuardTests", dependencies: ["PIIGuardLogic"], path: "Middleware/pii-guard/Tests", swiftSettings: strict),

        .target(name: "KeyInjectorLogic", dependencies: ["ProxyWasm"], path: "Middleware/key-injector/Logic", swiftSettings: strict),
        .testTarget(name: "KeyInjectorTests", dependencies: ["KeyInjectorLogic"], path: "Middleware/key-injector/Tests", swiftSettings: strict),

        .target(name: "UpstreamWatchLogic", dependencies: ["ProxyWasm"], path: "Middleware/upstream-watch/Logic", swiftSettings: strict),
        .testTarget(name: "UpstreamWatchTests", dependencies: ["UpstreamWatchLogic", "ProxyWasm"], path: "Middleware/upstream-watch/Tests", swiftSettings: strict),
    ]
)
