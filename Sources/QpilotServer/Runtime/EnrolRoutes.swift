import AdminServer
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import Modules
import NIOCore
import NIOSSL
import PKI
import QpilotAPI
import ServiceLifecycle
import X509

/// The routes nodes use to join, on the module port (HTTPS whenever xDS runs with TLS):
/// - `GET /v1/enrol/ca`: qpilot's CA certificate (PEM). `qpilot bootstrap --enroll` fetches it
///   first and checks its SHA-256 against the one the operator was given with the token.
/// - `POST /v1/enrol`: a join token and a certificate request → a client certificate.
/// - `POST /v1/enrol/renew`: the current certificate and a request signed by its key → a new one.
///
/// Refusals answer `{"error": {"message": …}}` with 400 (a malformed request), 403 (a token or
/// certificate that is not accepted) or 503 (the store is down).
enum EnrolRoutes {
    static let maxBodyBytes = 64 * 1024

    static func add(to router: Router<BasicRequestContext>, enrolment: NodeEnrolment, xdsPort: Int) {
        router.get("/v1/enrol/ca") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/x-pem-file"],
                body: .init(byteBuffer: ByteBuffer(string: enrolment.authority.pem)))
        }
        router.post("/v1/enrol") { request, _ -> Response in
            let body = try await decode(EnrolRequest.self, request)
            let (certificate, fleet) = try await refusing { () async throws(NodeEnrolment.Refusal) in try await enrolment.enrol(body) }
            return try answer(certificate, fleet: fleet, node: body.nodeID, enrolment, xdsPort)
        }
        router.post("/v1/enrol/renew") { request, _ -> Response in
            let body = try await decode(RenewRequest.self, request)
            let (certificate, fleet) = try await refusing { () async throws(NodeEnrolment.Refusal) in try await enrolment.renew(body) }
            let node = CertificateAuthority.identity(of: certificate)?.node ?? ""
            return try answer(certificate, fleet: fleet, node: node, enrolment, xdsPort)
        }
    }

    /// A refusal as an HTTP error with its status and message.
    static func refusing<T>(_ body: () async throws(NodeEnrolment.Refusal) -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw HTTPError(.init(code: error.status), message: error.message)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBodyBytes)
        } catch {
            throw HTTPError(.contentTooLarge, message: "the request body is larger than \(maxBodyBytes) bytes")
        }
        do {
            return try APIJSON.decoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw HTTPError(.badRequest, message: "the body is not a valid \(T.self) JSON document: \(error)")
        }
    }

    static func answer(_ certificate: Certificate, fleet: String, node: String, _ enrolment: NodeEnrolment, _ xdsPort: Int) throws -> Response {
        let body = EnrolResponse(
            nodeID: node, fleet: fleet, certificate: try certificate.pemText, ca: enrolment.authority.pem,
            expires: certificate.notValidAfter, xdsPort: xdsPort)
        let data = try APIJSON.encoder().encode(body)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
