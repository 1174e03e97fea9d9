import AsyncAlgorithms
import EnvoyAPI
import GRPCCore
import Logging
import SwiftProtobuf
import Synchronization

/// Serves ADS, SotW and Delta, to every Envoy of every fleet.
///
/// Each stream runs one loop that takes, in turn, a request from Envoy or a new snapshot of its
/// fleet, feeds it to the flavour's state machine, and writes what that returns. The loop holds no
/// locks; the only shared state is the cache and the node registry.
public struct AggregatedDiscoveryServer: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.SimpleServiceProtocol {
    let watcher: any ConfigWatcher
    let onDemand: (any OnDemandResources)?
    let admission: (any StreamAdmission)?
    let fetches: ModuleFetches?
    let nodes: NodeRegistry
    let logger: Logger
    let limits: Limits
    private let open = OpenStreams()

    /// - Parameters:
    ///   - watcher: where snapshots come from.
    ///   - onDemand: what makes resources of on-demand types (certificates) when a node asks.
    ///   - admission: what decides, from the connection, whether a stream may serve the node it
    ///     names (the peer's certificate must name it); nil admits every stream.
    ///   - fetches: what the module endpoint saw each stream's Envoy download, for resources whose
    ///     module Envoy fetches by URL (see `FetchRetry`); nil sends them as they are and takes
    ///     every NACK as final.
    ///   - nodes: where per-node status goes.
    public init(
        watcher: any ConfigWatcher, onDemand: (any OnDemandResources)? = nil, admission: (any StreamAdmission)? = nil,
        fetches: ModuleFetches? = nil, nodes: NodeRegistry, logger: Logger, limits: Limits = Limits()
    ) {
        self.watcher = watcher
        self.onDemand = onDemand
        self.admission = admission
        self.fetches = fetches
        self.nodes = nodes
        self.logger = logger
        self.limits = limits
    }

    public func streamAggregatedResources(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await run(SotWStream(), requests: request, writer: response, context: context)
    }

    public func deltaAggregatedResources(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await run(DeltaStream(), requests: request, writer: response, context: context)
    }

    /// Ends every open stream, and every stream opened from now on, as a completed RPC: each Envoy
    /// then reconnects, to whichever qpilot serves the address next. A graceful shutdown calls
    /// this; an ADS stream never ends by itself, so the server could otherwise not stop.
    public func endAllStreams() {
        open.endAll()
    }

    /// Ends the open streams of one node (a revoked one); returns how many there were. Its
    /// Envoy reconnects, and `admission` decides again.
    @discardableResult
    public func endStreams(ofNode node: String) -> Int {
        open.end(node: node)
    }

    /// `envoy/1.40.0`: the user agent and its version. Envoy sends a structured build version
    /// (`user_agent_build_version`); other clients may send a free-form string.
    public static func version(of node: Envoy_Config_Core_V3_Node) -> String {
        var version = ""
        switch node.userAgentVersionType {
        case .userAgentVersion(let text): version = text
        case .userAgentBuildVersion(let build) where build.hasVersion:
            version = "\(build.version.majorNumber).\(build.version.minorNumber).\(build.version.patch)"
        default: break
        }
        return [node.userAgentName, version].filter { !$0.isEmpty }.joined(separator: "/")
    }

    /// What one stream may hold: a client sends these, so each is bounded.
    public struct Limits: Sendable {
        /// The longest node id or fleet name, in bytes (Kubernetes names stop at 253).
        public var maxIdentityBytes = 256
        /// The most resource names one stream may subscribe to or say it holds, over all types.
        public var maxNames = 10_000

        public init() {}
    }

    /// A node's fleet: `metadata["qpilot.fleet"]` when set, else `node.cluster`.
    public static func fleet(of node: Envoy_Config_Core_V3_Node) -> String {
        if let fleet = node.metadata.fields["qpilot.fleet"]?.stringValue, !fleet.isEmpty {
            return fleet
        }
        return node.cluster
    }

    private enum Input<Request: Sendable>: Sendable {
        case request(Request)
        case snapshot(Snapshot)
        /// Time to send a resource again whose module the node was fetching.
        case resend(ResourceType, name: String, version: String, attempt: Int)
        case end
        case failed(any Error)
    }

    private func run<Flavour: StreamFlavour>(
        _ initial: Flavour,
        requests: RPCAsyncSequence<Flavour.Request, any Error>,
        writer: RPCWriter<Flavour.Wire>,
        context: ServerContext
    ) async throws {
        var machine = initial
        // A channel, not a buffer: a producer waits until the loop has taken its input, so a
        // client that sends faster than the loop writes is slowed by HTTP/2 flow control instead
        // of growing a queue in qpilot's memory.
        let inputs = AsyncChannel<Input<Flavour.Request>>()
        var identity: (node: String, stream: Int)?
        var fleet = ""
        var remote = RemoteSends(token: fetches?.open())
        let ticket = open.add { inputs.finish() }
        defer {
            open.remove(ticket)
            if let identity { nodes.disconnect(nodeID: identity.node, stream: identity.stream) }
            if let token = remote.token { fetches?.close(token) }
        }

        // Discarding: the resend waits end on their own, and must not pile up for the stream's life.
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                do {
                    for try await request in requests { await inputs.send(.request(request)) }
                    await inputs.send(.end)
                } catch {
                    await inputs.send(.failed(error))
                }
            }
            defer { group.cancelAll() }

            loop: for await input in inputs {
                switch input {
                case .request(let request):
                    if identity == nil {
                        guard let node = Flavour.node(of: request), !node.id.isEmpty else {
                            throw RPCError(
                                code: .invalidArgument,
                                message: "the first request must carry a node with an id (set node.id in the bootstrap)")
                        }
                        fleet = Self.fleet(of: node)
                        guard node.id.utf8.count <= limits.maxIdentityBytes, fleet.utf8.count <= limits.maxIdentityBytes else {
                            throw RPCError(
                                code: .invalidArgument,
                                message: "a node id or fleet is longer than \(limits.maxIdentityBytes) bytes")
                        }
                        // Named before it is admitted, so a revocation that lands in between still
                        // finds (and ends) this stream.
                        open.identify(ticket, node: node.id)
                        try admission?.admit(nodeID: node.id, fleet: fleet, context: context)
                        let version = String(Self.version(of: node).prefix(limits.maxIdentityBytes))
                        let others = nodes.connectedStreams(of: node.id)
                        let stream = nodes.connect(nodeID: node.id, fleet: fleet, envoyVersion: version, flavour: Flavour.name)
                        identity = (node.id, stream)
                        logger.info("node connected", metadata: ["node": "\(node.id)", "fleet": "\(fleet)", "protocol": "\(Flavour.name)"])
                        if others > 0 {
                            // Either Envoy reconnected before the old stream closed, or something
                            // else claims this node's id: both streams stay visible in status.
                            logger.warning(
                                "another stream already serves this node id; both are shown in status",
                                metadata: ["node": "\(node.id)", "streams": "\(others + 1)"])
                        }
                        let snapshots = watcher.watch(fleet: fleet)
                        group.addTask {
                            for await snapshot in snapshots { await inputs.send(.snapshot(snapshot)) }
                        }
                    }
                    if let fresh = makeOnDemand(Flavour.subscriptions(of: request), fleet: fleet) {
                        // What the node asks for exists now: the answer to this request carries it.
                        let responses = machine.update(fresh)
                        record(machine.drainEvents(), identity!)
                        try await send(responses, Flavour.self, writer, identity!, &remote)
                    }
                    let (events, responses) = machine.receive(request)
                    guard machine.heldNames <= limits.maxNames else {
                        throw RPCError(
                            code: .resourceExhausted,
                            message: "more than \(limits.maxNames) resource names on one stream; qpilot serves far fewer")
                    }
                    let triaged = triage(events, snapshot: machine.snapshot, node: identity!.node, &remote) { wait in
                        group.addTask {
                            await wait.run()
                            await inputs.send(.resend(wait.type, name: wait.name, version: wait.version, attempt: wait.attempt))
                        }
                    }
                    record(triaged, identity!)
                    try await send(responses, Flavour.self, writer, identity!, &remote)
                case .snapshot(let snapshot):
                    let responses = machine.update(snapshot)
                    remote.forget(keeping: snapshot)
                    record(machine.drainEvents(), identity!)
                    try await send(responses, Flavour.self, writer, identity!, &remote)
                case .resend(let type, let name, let version, let attempt):
                    // Only while the send that was refused is still the latest of that resource.
                    guard let sent = remote.sent[name], sent.version == version, sent.attempt == attempt, sent.awaitingResend,
                        machine.snapshot?.resources(of: type)[name]?.version == version
                    else { continue }
                    try await send(machine.resend(type, name: name), Flavour.self, writer, identity!, &remote)
                case .end:
                    break loop
                case .failed(let error):
                    throw error
                }
            }
        }
    }

    /// Asks `onDemand` for the names of an on-demand type that a request subscribes to and the
    /// fleet's snapshot lacks; returns the snapshot that now has them, or nil when nothing changed.
    private func makeOnDemand(_ subscription: (typeURL: String, names: [String]), fleet: String) -> Snapshot? {
        guard let onDemand, let type = ResourceType(typeURL: subscription.typeURL), type.isOnDemand,
            !subscription.names.isEmpty
        else { return nil }
        let held = watcher.snapshot(for: fleet)?.resources(of: type) ?? [:]
        // Bounded like every other list a client sends (Limits.maxNames).
        let missing = Set(subscription.names.prefix(limits.maxNames)).subtracting(held.keys).subtracting(["*"])
        guard !missing.isEmpty, onDemand.requested(missing, of: type, fleet: fleet) else { return nil }
        return watcher.snapshot(for: fleet)
    }

    /// Turns the NACK of a resource whose module the node fetches by URL into `fetching` and a
    /// scheduled resend, when `FetchRetry` says the node did not hold the module yet; a NACK it
    /// takes as real keeps Envoy's message, with qpilot's note added when it has one.
    private func triage(
        _ events: [ProtocolEvent], snapshot: Snapshot?, node: String, _ remote: inout RemoteSends,
        schedule: (ResendWait) -> Void
    ) -> [ProtocolEvent] {
        guard let fetches, let token = remote.token else { return events }
        return events.map { event in
            if case .ack(let type, _, let resources) = event, type.sendsOneAtATime {
                // Every send of such a resource differs from any before it (the stream's token and
                // counter), so Envoy built what it ACKs: it cannot be the skipped re-send of a
                // config it refused, and an older refusal of that version no longer holds.
                let built = resources.filter { remote.sent[$0.key]?.version == $0.value }.map(\.key)
                if !built.isEmpty { nodes.forgetRejections(of: node, names: built) }
                return event
            }
            guard case .nack(let type, let typeVersion, let message, let resources) = event, type.sendsOneAtATime,
                resources.count == 1, let (name, version) = resources.first,
                let fetched = snapshot?.resources(of: type)[name].flatMap({ $0.version == version ? $0.fetched : nil }),
                var sent = remote.sent[name], sent.version == version
            else { return event }
            let download = fetches.latest(token: token, content: fetched.key)
            if case .failed = download?.event, let download, download.sequence > sent.countedFailure {
                sent.failures += 1
                sent.countedFailure = download.sequence
            }
            remote.sent[name] = sent
            let decision = FetchRetry.decide(
                attempt: sent.attempt, download: download, sentAt: sent.at,
                refusedBefore: nodes.rejections(of: node)[name]?.version == version, failures: sent.failures,
                othersDownloading: fetches.downloading(fetched.key) > 0)
            switch decision {
            case .reject(let note):
                guard let note else { return event }
                return .nack(type, version: typeVersion, message: ProtocolEvent.shown("\(message) (\(note))"), resources: resources)
            case .retry(let wait):
                remote.sent[name]?.awaitingResend = true
                schedule(
                    ResendWait(
                        type: type, name: name, version: version, attempt: sent.attempt, wait: wait, fetches: fetches,
                        token: token, content: fetched.key, after: download?.sequence ?? 0))
                return .fetching(type, name: name, version: version, attempt: sent.attempt)
            }
        }
    }

    private func record(_ events: [ProtocolEvent], _ identity: (node: String, stream: Int)) {
        for event in events {
            nodes.record(event, nodeID: identity.node, stream: identity.stream)
            log(event, identity)
        }
    }

    private func log(_ event: ProtocolEvent, _ identity: (node: String, stream: Int)) {
        switch event {
        case .nack(let type, let version, let message, let resources):
            logger.warning(
                "Envoy rejected config",
                metadata: [
                    "node": "\(identity.node)", "type": "\(type)", "version": "\(version)", "error": "\(message)",
                    "resources": "\(resources.keys.sorted().joined(separator: ","))",
                ])
        case .ack(let type, let version, let resources):
            logger.debug(
                "ack",
                metadata: [
                    "node": "\(identity.node)", "type": "\(type)", "version": "\(version)",
                    "resources": "\(resources.keys.sorted().joined(separator: ","))",
                ])
        case .unknownType(let url):
            logger.notice("request for a type qpilot does not serve", metadata: ["type": "\(url)"])
        case .fetching(let type, let name, let version, let attempt):
            logger.info(
                "Envoy is fetching a module; qpilot sends the config again once it has",
                metadata: [
                    "node": "\(identity.node)", "type": "\(type)", "resource": "\(name)", "version": "\(version)",
                    "attempt": "\(attempt)",
                ])
        case .holds, .staleNonce:
            break
        }
    }

    private func send<Flavour: StreamFlavour>(
        _ responses: [Flavour.Response], _: Flavour.Type, _ writer: RPCWriter<Flavour.Wire>,
        _ identity: (node: String, stream: Int), _ remote: inout RemoteSends
    ) async throws {
        for response in responses {
            let (type, version) = Flavour.describe(response)
            let wire = try Flavour.wire(response) { resource in
                guard let fetched = resource.fetched, let token = remote.token else { return resource.body }
                let count = remote.sending(resource.name, version: resource.version)
                return try fetched.render("s=\(token)-\(count)")
            }
            try await writer.write(wire)
            nodes.recordSent(type, version: version, nodeID: identity.node, stream: identity.stream)
        }
    }
}

/// What one stream sent of the resources whose module Envoy fetches by URL: per resource name,
/// the version, how many times it went out, and when it last did.
struct RemoteSends {
    struct Sent {
        var version: String
        var attempt: Int
        var at: ContinuousClock.Instant
        var failures = 0
        /// The latest failed download already counted in `failures`.
        var countedFailure = 0
        /// A NACK of this send was taken as "still fetching", and a resend is scheduled.
        var awaitingResend = false
    }

    /// This stream's token at the module endpoint; nil when downloads are not watched.
    let token: String?
    var sent: [String: Sent] = [:]
    /// Sends of such resources on this stream, for the URL query: no two sends on a stream are
    /// the same bytes, whatever happened in between (a resource removed and restored).
    private var counter = 0

    init(token: String?) {
        self.token = token
    }

    /// Notes a send and returns the stream's send counter for its URL. `attempt` counts the
    /// sends of one version, for `FetchRetry`.
    mutating func sending(_ name: String, version: String) -> Int {
        let now = ContinuousClock.now
        counter += 1
        if var entry = sent[name], entry.version == version {
            entry.attempt += 1
            entry.at = now
            entry.awaitingResend = false
            sent[name] = entry
        } else {
            sent[name] = Sent(version: version, attempt: 1, at: now)
        }
        return counter
    }

    /// Forgets resources the snapshot no longer has.
    mutating func forget(keeping snapshot: Snapshot) {
        guard !sent.isEmpty else { return }
        let names = snapshot.resources(of: .extensionConfig)
        sent = sent.filter { names[$0.key] != nil }
    }
}

/// A wait before resending a resource whose module the node was fetching.
struct ResendWait: Sendable {
    let type: ResourceType
    let name: String
    let version: String
    /// The refused send's attempt: a resend goes only if it is still the latest.
    let attempt: Int
    let wait: FetchRetry.Wait
    let fetches: ModuleFetches
    let token: String
    let content: String
    /// The latest download record seen when the NACK was triaged.
    let after: Int

    func run() async {
        switch wait {
        case .delay(let duration):
            try? await Task.sleep(for: duration)
        case .downloadEnds(let limit):
            await untilDownloadEnds(after: after, limit: limit)
        case .downloadOr(let limit):
            guard let record = await fetches.next(token: token, content: content, after: after, timeout: limit) else { return }
            if record.event == .started {
                await untilDownloadEnds(after: record.sequence, limit: FetchRetry.downloadLimit)
            } else {
                try? await Task.sleep(for: FetchRetry.settle)
            }
        }
    }

    private func untilDownloadEnds(after sequence: Int, limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        var sequence = sequence
        while ContinuousClock.now < deadline {
            guard let record = await fetches.next(token: token, content: content, after: sequence, timeout: deadline - .now) else { return }
            sequence = record.sequence
            if record.event != .started { break }
        }
        try? await Task.sleep(for: FetchRetry.settle)
    }
}

/// Decides whether a stream may serve the node its first request names.
public protocol StreamAdmission: Sendable {
    /// Returns to admit; throws an `RPCError` (PERMISSION_DENIED, UNAUTHENTICATED) to refuse,
    /// with a message that says why and what to do.
    func admit(nodeID: String, fleet: String, context: ServerContext) throws(RPCError)
}

/// The streams that are open, each with a way to end it.
private final class OpenStreams: Sendable {
    private struct State {
        var next = 0
        var enders: [Int: @Sendable () -> Void] = [:]
        /// The node each stream serves, once its first request named it.
        var nodes: [Int: String] = [:]
        var ending = false
    }

    private let state = Mutex(State())

    /// Registers a stream; once `endAll` has run, the stream is ended at once.
    func add(_ end: @escaping @Sendable () -> Void) -> Int {
        let (ticket, ending) = state.withLock { state in
            state.next += 1
            state.enders[state.next] = end
            return (state.next, state.ending)
        }
        if ending { end() }
        return ticket
    }

    func remove(_ ticket: Int) {
        state.withLock { state in
            state.enders.removeValue(forKey: ticket)
            state.nodes.removeValue(forKey: ticket)
        }
    }

    func identify(_ ticket: Int, node: String) {
        state.withLock { $0.nodes[ticket] = node }
    }

    func end(node: String) -> Int {
        let enders = state.withLock { state in
            state.nodes.filter { $0.value == node }.compactMap { state.enders[$0.key] }
        }
        for end in enders { end() }
        return enders.count
    }

    func endAll() {
        let enders = state.withLock { state in
            state.ending = true
            return Array(state.enders.values)
        }
        for end in enders { end() }
    }
}
