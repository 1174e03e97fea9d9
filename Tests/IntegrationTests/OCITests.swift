import Foundation
import Modules
import Testing

extension Integration {
    /// Pulls from a real docker-registry on loopback; images pushed with skopeo.
    @Suite("Pulling modules from an OCI registry")
    struct OCITests {
        static var module: Data { get throws { try Data(contentsOf: Paths.wasm("add-header")) } }

        /// The test module with a custom section naming `variant`: same behaviour, another sha256.
        static func module(variant: String) throws -> Data {
            let name = Array("qpilot.variant".utf8)
            let body = [UInt8(name.count)] + name + Array(variant.utf8)
            return try module + Data([0x00, UInt8(body.count)] + body)
        }

        static func push(
            _ registry: Registry, kind: OCILayout.Kind, repository: String, tag: String, index: Bool = false, module: Data? = nil
        ) throws {
            let layout = registry.directory.appendingPathComponent("layout-\(UUID().uuidString)")
            try OCILayout.write(module: module ?? Self.module, kind: kind, tag: tag, to: layout, index: index)
            try registry.push(layout: layout, tag: tag, repository: repository, all: index)
        }

        @Test("Each of the four layouts, by tag and by digest, anonymously", arguments: OCILayout.Kind.allCases)
        func layouts(kind: OCILayout.Kind) async throws {
            let registry = try await Registry(auth: .anonymous)
            defer { registry.stop() }
            try Self.push(registry, kind: kind, repository: "qpilot/\(kind.rawValue)", tag: "v1")
            let fetcher = ModuleFetcher()
            let byTag = try await fetcher.fetch(ModuleSource(parsing: "oci://\(registry.host)/qpilot/\(kind.rawValue):v1"))
            #expect(byTag.module.bytes == (try Self.module))
            #expect(byTag.layout == kind.rawValue)
            let digest = try #require(byTag.resolvedDigest)
            let byDigest = try await fetcher.fetch(ModuleSource(parsing: "oci://\(registry.host)/qpilot/\(kind.rawValue)@\(digest)"))
            #expect(byDigest.module == byTag.module)
            #expect(byDigest.resolvedDigest == digest)
        }

        @Test("An image index: the linux/amd64 entry is chosen")
        func imageIndex() async throws {
            let registry = try await Registry(auth: .anonymous)
            defer { registry.stop() }
            try Self.push(registry, kind: .wasmToOCI, repository: "qpilot/multi", tag: "v2", index: true)
            let fetched = try await ModuleFetcher().fetch(ModuleSource(parsing: "oci://\(registry.host)/qpilot/multi:v2"))
            #expect(fetched.module.bytes == (try Self.module))
        }

        @Test("Basic and token auth: refused without credentials, pulled with them", arguments: [Registry.Auth.basic, .token])
        func authenticated(auth: Registry.Auth) async throws {
            let registry = try await Registry(auth: auth)
            defer { registry.stop() }
            try Self.push(registry, kind: .cncf, repository: "qpilot/private", tag: "v1")
            let source = try ModuleSource(parsing: "oci://\(registry.host)/qpilot/private:v1")
            do {
                _ = try await ModuleFetcher().fetch(source)
                Issue.record("pulled without credentials")
            } catch {
                #expect(error.message.contains("no credentials are configured"), "\(error.message)")
            }
            let credentials = try RegistryCredentials.dockerConfig(at: registry.credentialsFile())
            let fetched = try await ModuleFetcher(credentials: credentials).fetch(source)
            #expect(fetched.module.bytes == (try Self.module))
            let wrong = RegistryCredentials(logins: [registry.host: .init(username: Registry.user, password: "wrong")])
            await #expect(throws: ModuleError.self) { try await ModuleFetcher(credentials: wrong).fetch(source) }
        }

        @Test("A login goes only to the registry's own host: a token realm elsewhere gets no credentials")
        func credentialsStayHome() async throws {
            let registry = try await Registry(auth: .tokenElsewhere)
            defer { registry.stop() }
            try Self.push(registry, kind: .cncf, repository: "qpilot/private", tag: "v1")
            let source = try ModuleSource(parsing: "oci://\(registry.host)/qpilot/private:v1")
            let credentials = try RegistryCredentials.dockerConfig(at: registry.credentialsFile())
            do {
                _ = try await ModuleFetcher(credentials: credentials).fetch(source)
                Issue.record("the login was sent to another host's token service")
            } catch {
                #expect(error.message.contains("were not sent to http://localhost:"), "\(error.message)")
                #expect(error.message.contains("not the registry's host (127.0.0.1)"), "\(error.message)")
            }
        }

        @Test("A missing tag names the reference")
        func missingTag() async throws {
            let registry = try await Registry(auth: .anonymous)
            defer { registry.stop() }
            do {
                _ = try await ModuleFetcher().fetch(ModuleSource(parsing: "oci://\(registry.host)/qpilot/none:v9"))
                Issue.record("pulled a missing tag")
            } catch {
                #expect(error.message.contains("not found"), "\(error.message)")
            }
        }
    }
}
