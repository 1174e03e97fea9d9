import Foundation
@testable import Store
import Testing

struct StateStoreEnrolmentTests {
    static let hash = Data(repeating: 7, count: 32)

    @Test("a join token is accepted once, only with its secret, only for its node, only before it expires; and survives a reopen", arguments: StoreKind.allCases)
    func tokensAreSpentOnce(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            // Whole seconds: the store keeps milliseconds.
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            do {
                let store = try await place.open()
                try await store.createToken(
                    EnrolmentToken(id: "t1", fleet: "edge", node: "n1", createdAt: now, createdBy: "alice", expiresAt: now + 60),
                    secretHash: Self.hash)
                try await store.createToken(
                    EnrolmentToken(id: "t2", fleet: "edge", node: nil, createdAt: now, createdBy: "alice", expiresAt: now + 60),
                    secretHash: Self.hash)
            }
            let store = try await place.open()
            #expect(try await store.tokens().map(\.id).sorted() == ["t1", "t2"])
            #expect(try await store.redeemToken(id: "t1", secretHash: Data(repeating: 8, count: 32), node: "n1", now: now) == .unknown)
            #expect(try await store.redeemToken(id: "nope", secretHash: Self.hash, node: "n1", now: now) == .unknown)
            #expect(try await store.redeemToken(id: "t1", secretHash: Self.hash, node: "n2", now: now) == .otherNode("n1"))
            #expect(try await store.redeemToken(id: "t1", secretHash: Self.hash, node: "n1", now: now + 61) == .expired(at: now + 60))
            #expect(try await store.redeemToken(id: "t1", secretHash: Self.hash, node: "n1", now: now + 1) == .accepted(fleet: "edge"))
            #expect(try await store.redeemToken(id: "t1", secretHash: Self.hash, node: "n1", now: now + 2) == .used(at: now + 1, by: "n1"))
            // A node id that enrolled before may not use a token made for any node; the token stays unspent.
            try await store.recordCertificate(node: "r1", fleet: "edge", serial: "01", expiresAt: now + 60, renewal: false, at: now)
            #expect(try await store.redeemToken(id: "t2", secretHash: Self.hash, node: "r1", now: now + 3) == .needsNodeToken)
            // Concurrent uses of one token: exactly one wins.
            let outcomes = try await withThrowingTaskGroup(of: TokenRedemption.self) { group in
                for index in 0..<8 {
                    group.addTask { try await store.redeemToken(id: "t2", secretHash: Self.hash, node: "m\(index)", now: now + 3) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .accepted(fleet: "edge") }.count == 1)
            #expect(try await store.tokens().isEmpty, "spent tokens are not listed")
        }
    }

    @Test("an enrolment records the node; a renewal updates it; a revocation stays until the next enrolment clears it", arguments: StoreKind.allCases)
    func enrolledNodes(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            try await store.recordCertificate(node: "n1", fleet: "edge", serial: "aa", expiresAt: t0 + 100, renewal: false, at: t0)
            try await store.recordCertificate(node: "n1", fleet: "edge", serial: "bb", expiresAt: t0 + 200, renewal: true, at: t0 + 50)
            var node = try #require(try await store.enrolledNodes().first)
            #expect(node.enrolledAt == t0 && node.renewedAt == t0 + 50 && node.serial == "bb" && node.expiresAt == t0 + 200)
            #expect(try await store.revokeNode("n1", at: t0 + 60))
            #expect(try await store.revokeNode("n1", at: t0 + 70), "revoking again keeps the first time")
            #expect(try await store.revokeNode("ghost", at: t0) == false)
            node = try #require(try await store.enrolledNodes().first)
            #expect(node.revokedAt == t0 + 60)
            try await store.recordCertificate(node: "n1", fleet: "edge", serial: "cc", expiresAt: t0 + 300, renewal: true, at: t0 + 65)
            #expect(try await store.enrolledNodes().first?.revokedAt == t0 + 60, "a renewal does not clear a revocation")
            try await store.recordCertificate(node: "n1", fleet: "edge", serial: "dd", expiresAt: t0 + 400, renewal: false, at: t0 + 80)
            node = try #require(try await store.enrolledNodes().first)
            #expect(node.revokedAt == nil && node.enrolledAt == t0 + 80 && node.serial == "dd")
        }
    }

    @Test("a node may use the certificates issued since its latest enrolment, until they expire; an enrolment retires the others", arguments: StoreKind.allCases)
    func usableSerials(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(try await store.certificates(of: "n1", now: t0) == nil)
            try await store.recordCertificate(node: "n1", fleet: "edge", serial: "aa", expiresAt: t0 + 100, renewal: false, at: t0)
            try await store.recordCertificate(node: "n1", fleet: "edge", serial: "bb", expiresAt: t0 + 200, renewal: true, at: t0 + 60)
            #expect(try await store.certificates(of: "n1", now: t0 + 70).map(\.serials) == ["aa", "bb"])
            #expect(try await store.certificates(of: "n1", now: t0 + 150).map(\.serials) == ["bb"], "an expired one is not usable")
            try await store.recordCertificate(node: "n1", fleet: "edge", serial: "cc", expiresAt: t0 + 300, renewal: false, at: t0 + 80)
            #expect(try await store.certificates(of: "n1", now: t0 + 90).map(\.serials) == ["cc"], "a new enrolment retires a stolen key")
            #expect(try await store.revokeNode("n1", at: t0 + 95))
            let all = try await store.allCertificates(now: t0 + 96)
            #expect(all["n1"]?.revoked == true && all["n1"]?.serials == ["cc"])
        }
    }
}
