import Logging
import Metrics
import NIOCore
import NIOHPACK

/// The first handler of every connection to the TLS xDS port. TLS starts with a handshake record
/// (byte 0x16); a client that speaks plaintext HTTP/2 instead (an Envoy bootstrap without
/// `transport_socket`, `grpc.insecure_channel`) would otherwise see the connection drop with no
/// reason. The probe answers it in its own protocol: an HTTP/2 SETTINGS frame and, for the
/// stream the client opened, a gRPC status UNAVAILABLE whose message says the port needs TLS, so
/// Envoy logs "gRPC config stream to qpilot_xds closed: 14, qpilot's xDS port requires TLS…".
/// qpilot logs the peer and counts it (`qpilot_xds_refused_streams_total{reason="plaintext"}`).
/// Anything else that is not TLS is logged and closed. A TLS connection passes untouched: the
/// probe removes itself after the first byte.
final class PlaintextProbe: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let message =
        "qpilot's xDS port requires TLS with a client certificate: enrol this node (qctl node token create, then qpilot bootstrap --enroll) and start Envoy with the envoy.yaml it writes"

    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    /// What arrived so far from a plaintext client, and whether it has been answered.
    private var received: ByteBuffer?
    private var answered = false
    private var deadline: Scheduled<Void>?
    private static let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if received == nil {
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
            if first == 0x16 {
                context.fireChannelRead(data)
                context.pipeline.syncOperations.removeHandler(self, promise: nil)
                return
            }
            let http2 = buffer.getString(at: buffer.readerIndex, length: min(4, buffer.readableBytes)) == "PRI "
            Counter(label: "qpilot_xds_refused_streams_total", dimensions: [("reason", "plaintext")]).increment()
            logger.warning(
                "a client spoke \(http2 ? "plaintext HTTP/2" : "something other than TLS") to the TLS xDS port; its bootstrap needs the transport_socket that `qpilot bootstrap --enroll` writes",
                metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
            guard http2 else {
                context.close(promise: nil)
                return
            }
            received = context.channel.allocator.buffer(capacity: 1024)
            // Whatever happens next, the connection does not outlive a few seconds.
            deadline = context.eventLoop.scheduleTask(in: .seconds(5)) { context.close(promise: nil) }
            // The server's preface (SETTINGS) and the ACK of the client's: gRPC clients wait for
            // them before they send a request.
            var settings = context.channel.allocator.buffer(capacity: 18)
            Self.frame(&settings, type: 0x4, flags: 0, stream: 0, payload: nil)
            Self.frame(&settings, type: 0x4, flags: 0x1, stream: 0, payload: nil)
            context.writeAndFlush(wrapOutboundOut(settings), promise: nil)
        }
        guard !answered else { return }  // read and dropped until the client closes
        received!.writeBuffer(&buffer)
        guard let stream = Self.firstRequestStream(in: received!) else {
            if received!.readableBytes > 64 * 1024 { context.close(promise: nil) }
            return
        }
        answered = true
        received = context.channel.allocator.buffer(capacity: 0)
        if let answer = try? Self.grpcUnavailable(stream: stream, allocator: context.channel.allocator) {
            // Half-close after the answer; closing while the client's bytes are unread would
            // reset the connection and lose the answer.
            context.writeAndFlush(wrapOutboundOut(answer)).whenComplete { _ in
                context.close(mode: .output, promise: nil)
            }
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    /// The stream id of the client's first HEADERS frame, once it has arrived (after the
    /// connection preface).
    static func firstRequestStream(in buffer: ByteBuffer) -> UInt32? {
        guard buffer.readableBytes >= preface.utf8.count else { return nil }
        var offset = buffer.readerIndex + preface.utf8.count
        while let lengthHigh = buffer.getInteger(at: offset, as: UInt8.self),
            let lengthLow = buffer.getInteger(at: offset + 1, as: UInt16.self),
            let type = buffer.getInteger(at: offset + 3, as: UInt8.self),
            let stream = buffer.getInteger(at: offset + 5, as: UInt32.self)
        {
            if type == 0x1 { return stream & 0x7FFF_FFFF }
            offset += 9 + (Int(lengthHigh) << 16 | Int(lengthLow))
        }
        return nil
    }

    /// HEADERS ending `stream`: `:status 200`, gRPC status 14 and the message, as a
    /// trailers-only gRPC response (gRPC over HTTP/2, "Responses"), then GOAWAY.
    static func grpcUnavailable(stream: UInt32, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var encoder = HPACKEncoder(allocator: allocator, useHuffmanEncoding: false)
        var block = allocator.buffer(capacity: 256)
        try encoder.encode(
            headers: [
                ":status": "200", "content-type": "application/grpc", "grpc-status": "14",
                // printable ASCII without "%", so it needs no percent-encoding
                "grpc-message": message,
            ], to: &block)
        var out = allocator.buffer(capacity: 64 + block.readableBytes)
        // END_STREAM | END_HEADERS
        frame(&out, type: 0x1, flags: 0x5, stream: stream, payload: block)
        var goaway = allocator.buffer(capacity: 8)
        goaway.writeInteger(stream)
        goaway.writeInteger(UInt32(0))  // NO_ERROR
        frame(&out, type: 0x7, flags: 0, stream: 0, payload: goaway)
        return out
    }

    /// An HTTP/2 frame (RFC 9113, section 4.1): 24-bit length, type, flags, stream id.
    static func frame(_ out: inout ByteBuffer, type: UInt8, flags: UInt8, stream: UInt32, payload: ByteBuffer?) {
        let length = payload?.readableBytes ?? 0
        out.writeInteger(UInt8(truncatingIfNeeded: length >> 16))
        out.writeInteger(UInt16(truncatingIfNeeded: length))
        out.writeInteger(type)
        out.writeInteger(flags)
        out.writeInteger(stream & 0x7FFF_FFFF)
        if var payload { out.writeBuffer(&payload) }
    }
}
