import Crypto
import Foundation

/// The keys that seal and open secrets: the current key seals; it and any key this process used
/// before (since a key rotation) open.
///
/// Keeping the previous key in memory lets a read that started before a rotation committed
/// still open what it read, sealed under the old key.
struct Keyring: Sendable {
    private(set) var currentID: String
    private var keys: [String: SymmetricKey]

    init(current: SymmetricKey) {
        currentID = KeyFile.identifier(of: current)
        keys = [currentID: current]
    }

    var current: SymmetricKey { keys[currentID]! }

    /// Makes `key` the sealing key, keeping the others for opening.
    mutating func rotate(to key: SymmetricKey) {
        currentID = KeyFile.identifier(of: key)
        keys[currentID] = key
    }

    /// Why a sealed value did not open.
    enum OpenFailure: Error {
        /// The value names a key this process does not hold.
        case unknownKey(String)
        /// The key is right by name but the value does not authenticate: altered, or stored
        /// under another secret's name.
        case notAuthentic
    }

    /// AES-256-GCM with a fresh random nonce per value. The secret's name is the authenticated
    /// data, so a sealed value copied to another name does not open.
    func seal(_ value: String, name: String) throws -> (sealed: Data, keyID: String) {
        let box = try AES.GCM.seal(Data(value.utf8), using: current, authenticating: Data(name.utf8))
        // `combined` is nil only for nonces that are not 12 bytes; seal always makes 12.
        return (box.combined!, currentID)
    }

    func open(_ sealed: Data, keyID: String, name: String) throws(OpenFailure) -> String {
        guard let key = keys[keyID] else { throw .unknownKey(keyID) }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            let plain = try AES.GCM.open(box, using: key, authenticating: Data(name.utf8))
            return String(decoding: plain, as: UTF8.self)
        } catch {
            throw .notAuthentic
        }
    }
}
