// body-rewrite: replaces words in request bodies, for example {"replace": {"internal": "public"}}.
// The replacement may change the body's length, so the header step drops `content-length`
// (Envoy then sends the body chunked); headers go upstream before the body has been read.
import ProxyWasm

@main
enum BodyRewrite {
    static func main() {
        setRootContext { BodyRewriteRoot() }
    }
}

final class BodyRewriteRoot: RootContext {
    var replacements: [(from: [UInt8], to: [UInt8])] = []

    override func onConfigure(configuration: [UInt8]) -> Bool {
        let document: JSONValue
        do {
            document = try JSON.parse(configuration)
        } catch {
            Log.error("body-rewrite: \(error.message)")
            return false
        }
        guard let members = document["replace"]?.members else {
            Log.error("body-rewrite: expected {\"replace\": {\"word\": \"replacement\", ...}}")
            return false
        }
        replacements = []
        for member in members {
            guard let replacement = member.value.stringValue, !member.key.isEmpty else {
                Log.error("body-rewrite: the replacement for '\(member.key)' must be a string")
                return false
            }
            replacements.append((Array(member.key.utf8), Array(replacement.utf8)))
        }
        return true
    }

    override func makeHTTPContext() -> HTTPContext? {
        BodyRewriteExchange(replacements: replacements)
    }
}

final class BodyRewriteExchange: HTTPContext {
    let replacements: [(from: [UInt8], to: [UInt8])]

    init(replacements: [(from: [UInt8], to: [UInt8])]) {
        self.replacements = replacements
    }

    override func onRequestHeaders(headerCount: Int, endOfStream: Bool) -> Action {
        if !endOfStream {
            requestHeaders["content-length"] = nil
        }
        return .continue
    }

    override func onRequestBody(bodySize: Int, endOfStream: Bool) -> Action {
        guard endOfStream else {
            return .pause  // keep buffering; the next call sees everything so far
        }
        var body = requestBody.read()
        for replacement in replacements {
            body = replaceAll(replacement.from, with: replacement.to, in: body)
        }
        requestBody.replace(with: body)
        return .continue
    }

    private func replaceAll(_ target: [UInt8], with replacement: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if index + target.count <= bytes.count && bytes[index..<(index + target.count)].elementsEqual(target) {
                output.append(contentsOf: replacement)
                index += target.count
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return output
    }
}
