import Foundation
import Modules
import Testing

@Suite("File sources and the module size limit")
struct FileSourceLimitTests {
    static let limits = FetchLimits(maxModuleBytes: 1024 * 1024, maxDecompressedBytes: 4 * 1024 * 1024)

    @Test("a symbolic link is judged by the file it points to")
    func symlinkToLargeFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-limit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let large = directory.appendingPathComponent("large.wasm")
        try (Data([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]) + Data(count: 2 * 1024 * 1024)).write(to: large)
        let link = directory.appendingPathComponent("small-looking.wasm")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: large)

        let error = await #expect(throws: ModuleError.self) {
            try await ModuleFetcher(limits: Self.limits).fetch(.file(link))
        }
        #expect(error?.message.contains("over the limit of 1048576 bytes") == true, "\(String(describing: error))")
    }

    @Test("a device or a pipe is not read: it could be read forever")
    func notARegularFile() async throws {
        let error = await #expect(throws: ModuleError.self) {
            try await ModuleFetcher(limits: Self.limits).fetch(.file(URL(fileURLWithPath: "/dev/zero")))
        }
        #expect(error?.message == "/dev/zero is not a regular file")
    }
}
