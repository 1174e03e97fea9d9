import Foundation

/// An exclusive lock on a data directory, held while the process runs: two qpilots on one
/// directory would each publish their own view of the store and diverge. The lock is `flock` on
/// `<dir>/qpilot.lock`, so the kernel releases it when the process ends, even by SIGKILL.
public final class DirectoryLock: Sendable {
    private let descriptor: Int32
    public let url: URL

    /// Takes the lock, or throws naming the process that holds it.
    public init(directory: URL) throws(StoreError) {
        url = directory.appendingPathComponent("qpilot.lock")
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .unusable("cannot open \(url.path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw .unusable(
                "another qpilot\(holder.map { " (pid \($0))" } ?? "") is using the data directory \(directory.path); stop it first, or give this one a dataDir of its own")
        }
        // The holder's pid, for the message above; the lock itself is the flock.
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
