import Glibc

/// The kernel log as `/dev/kmsg` offers it: one record per read(2) ("PRI,SEQ,USEC,FLAGS;text"
/// plus continuation lines, Documentation/ABI/testing/dev-kmsg), opened at its current end so
/// only what is logged afterwards is read, and the place to write marker lines into the log.
public final class KernelLogDevice: @unchecked Sendable {
    /// Why the log cannot be read (or nil when it can).
    public let readError: String?
    /// Why marker lines cannot be written (or nil when they can).
    public let writeError: String?
    private let readFD: Int32
    private let writeFD: Int32

    public init(path: String = "/dev/kmsg") {
        let r = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if r >= 0 {
            // Start at the end: the records logged before the run are not the run's.
            _ = lseek(r, 0, SEEK_END)
            readFD = r
            readError = nil
        } else {
            readFD = -1
            readError = Self.describe(errno, path: path, reading: true)
        }
        let w = open(path, O_WRONLY | O_CLOEXEC)
        if w >= 0 {
            writeFD = w
            writeError = nil
        } else {
            writeFD = -1
            writeError = Self.describe(errno, path: path, reading: false)
        }
    }

    deinit {
        if readFD >= 0 { _ = close(readFD) }
        if writeFD >= 0 { _ = close(writeFD) }
    }

    /// Every record logged since the last call (or since opening), raw. Records the kernel
    /// overwrote before they were read are skipped (EPIPE), and said so by a nil in their place.
    public func readAvailable() -> [String?] {
        guard readFD >= 0 else { return [] }
        var records: [String?] = []
        var buffer = [UInt8](repeating: 0, count: 8192)  // a record is at most 1 KiB of text + dict
        while true {
            // Unsafe: read(2) fills the array's own storage, at most its count bytes.
            let n = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
            if n > 0 {
                records.append(String(decoding: buffer[0..<n], as: UTF8.self))
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EPIPE {
                records.append(nil)
                continue
            }
            return records  // EAGAIN (nothing more) or an error
        }
    }

    /// Writes one line into the kernel log at `level` (KERN_INFO 6 by default). Returns false
    /// when it cannot.
    @discardableResult
    public func write(_ line: String, level: Int = 6) -> Bool {
        guard writeFD >= 0 else { return false }
        let bytes = Array("<\(level)>\(line)\n".utf8)
        // Unsafe: write(2) reads exactly the array's bytes.
        let n = bytes.withUnsafeBytes { Glibc.write(writeFD, $0.baseAddress, $0.count) }
        return n == bytes.count
    }

    private static func describe(_ e: Int32, path: String, reading: Bool) -> String {
        switch e {
        case EACCES, EPERM:
            return reading
                ? "permission denied reading \(path) (run as root, or allow it with sysctl kernel.dmesg_restrict=0)"
                : "permission denied writing \(path) (run as root)"
        case ENOENT: return "\(path) does not exist"
        default: return "cannot open \(path): \(String(cString: strerror(e)))"
        }
    }
}
