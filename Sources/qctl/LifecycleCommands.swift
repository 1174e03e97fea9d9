import ArgumentParser
import NIOHTTP1
import QpilotAPI

/// The middleware name argument shared by delete, enable and disable.
struct NameArgument: ParsableArguments {
    @Argument(help: "The middleware's name.")
    var name: String

    func validate() throws { try MiddlewareName.check(name) }
}

/// `qctl delete NAME`.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Remove one middleware from the chain (DELETE /v1/middleware/NAME).",
        discussion: "To take it out of Envoy's config but keep its settings, use `qctl disable` instead.")

    @OptionGroup var target: NameArgument
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var write: WriteOptions

    func run() async throws {
        let api = try connection.connect()
        let answer = try await api.call(
            .DELETE, "/v1/middleware/\(Connection.segment(target.name))", ifMatch: write.ifMatch)
        try await WriteReport.finish(answer, what: "middleware \(target.name) deleted", connection: api, options: write)
    }
}

/// `qctl enable NAME`.
struct EnableCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable",
        abstract: "Send a disabled middleware to Envoy again (POST /v1/middleware/NAME/enable).")

    @OptionGroup var target: NameArgument
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var write: WriteOptions

    func run() async throws {
        try await Toggle.run("enable", target.name, connection, write)
    }
}

/// `qctl disable NAME`.
struct DisableCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable",
        abstract: "Take a middleware out of Envoy's config but keep it in the store (POST /v1/middleware/NAME/disable).")

    @OptionGroup var target: NameArgument
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var write: WriteOptions

    func run() async throws {
        try await Toggle.run("disable", target.name, connection, write)
    }
}

/// The one request behind enable and disable.
enum Toggle {
    static func run(_ action: String, _ name: String, _ connection: ConnectionOptions, _ write: WriteOptions) async throws {
        let api = try connection.connect()
        let answer = try await api.call(
            .POST, "/v1/middleware/\(Connection.segment(name))/\(action)", ifMatch: write.ifMatch)
        try await WriteReport.finish(answer, what: "middleware \(name) \(action)d", connection: api, options: write)
    }
}
