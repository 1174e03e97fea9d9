import AdminServer
import HTTPTypes
import QpilotAPI
import Store
@testable import QpilotServer
import Testing

@Suite("Domain errors as API answers")
struct AdminErrorMappingTests {
    @Test(
        "each domain code becomes one status and one catalogue code; the message keeps its field",
        arguments: [
            (QpilotError.Code.invalid, HTTPResponse.Status.badRequest, APIErrorCode.invalid),
            (.notFound, .notFound, .notFound),
            (.unknownRevision, .notFound, .unknownRevision),
            (.duplicate, .conflict, .duplicate),
            (.fileMode, .conflict, .fileMode),
            (.staleRevision, .conflict, .staleRevision),
            (.secretInUse, .conflict, .secretInUse),
            (.invalidModule, .unprocessableContent, .invalidModule),
            (.missingSecret, .unprocessableContent, .missingSecret),
            (.invalidConfig, .unprocessableContent, .invalid),
            (.store, .internalServerError, .store),
        ])
    func mapping(code: QpilotError.Code, status: HTTPResponse.Status, apiCode: APIErrorCode) {
        let error = QpilotError(code, "what to do", line: 7, field: "middleware[2].source", details: ["name": "x"])
        let answer = AdminError(error)
        #expect(answer.status == status)
        #expect(answer.code == apiCode)
        #expect(answer.message == "middleware[2].source: what to do", "an API answer has no line, but keeps the field")
        #expect(answer.details == ["name": "x"])
    }

    @Test("a store refusal of a stale head is stale_revision; an invalid secret name is invalid")
    func storeErrors() {
        #expect(QpilotError.store("x", StoreError.staleRevision(expected: 1, head: 2)).code == .staleRevision)
        #expect(QpilotError.store("x", StoreError.staleRevision(expected: 1, head: 2)).details == ["expected": "1", "head": "2"])
        #expect(QpilotError.store("x", StoreError.invalidName("a b")).code == .invalid)
        #expect(QpilotError.store("cannot read", StoreError.unusable("disk")).code == .store)
    }
}
