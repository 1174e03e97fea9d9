import Testing

/// Every integration test runs real Envoys on loopback; on 2 cores they run one at a time.
@Suite("Integration with Envoy 1.40", .serialized)
struct Integration {}
