#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where report text goes. Writes are unbuffered (each call reaches the descriptor), so
/// progress shows while a long test runs and nothing is lost if the process is killed.
public protocol TextSink: AnyObject {
    func write(_ text: String)
    /// Whether this sink is a terminal (for `--color auto`).
    var isTerminal: Bool { get }
}

/// A file descriptor (stdout/stderr). Retries short writes and EINTR; a closed pipe (EPIPE)
/// or other error silently drops the text (a report must never crash the harness).
public final class FileDescriptorSink: TextSink {
    public let fd: Int32
    public init(fd: Int32) { self.fd = fd }

    public static func standardOutput() -> FileDescriptorSink { FileDescriptorSink(fd: 1) }
    public static func standardError() -> FileDescriptorSink { FileDescriptorSink(fd: 2) }

    public var isTerminal: Bool { isatty(fd) == 1 }

    public func write(_ text: String) {
        _ = writeAll(fd, text)
    }
}

/// Collects text in memory (tests, or building a file's contents).
public final class StringSink: TextSink {
    public private(set) var text = ""
    public let isTerminal: Bool
    public init(isTerminal: Bool = false) { self.isTerminal = isTerminal }
    public func write(_ text: String) { self.text += text }
}

public enum ReportingError: Error, CustomStringConvertible, Equatable {
    /// The `--output` path cannot be written: what, where, why.
    case cannotWrite(path: String, operation: String, errno: Int32)
    case outputIsDirectory(path: String)
    case directoryMissing(path: String, directory: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let op, let e):
            let reason = String(cString: strerror(e))
            return "cannot write --output '\(path)': \(op) failed: \(reason) (errno \(e)); no partial file was left"
        case .outputIsDirectory(let path):
            return "--output '\(path)' is a directory; give a file name such as '\(path.hasSuffix("/") ? path : path + "/")results.xml'"
        case .directoryMissing(let path, let dir):
            return "--output '\(path)': directory '\(dir)' does not exist"
        }
    }
}

/// Writes a whole file or nothing: the text goes to a temporary file in the same directory
/// (so the rename cannot cross file systems), which is flushed with fsync and then renamed
/// over `path`. On any error the temporary file is removed and `path` is left as it was.
/// The new file gets mode 0666 & ~umask, like a file created with open(2).
public enum AtomicFile {
    /// Checks early (before a long run) that `path` names a writable place: its directory
    /// exists and `path` is not a directory. Returns the directory.
    @discardableResult
    public static func validate(path: String) throws(ReportingError) -> String {
        let dir = directory(of: path)
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { throw .outputIsDirectory(path: path) }
        if path.hasSuffix("/") { throw .outputIsDirectory(path: path) }
        var dst = stat()
        guard stat(dir, &dst) == 0, (dst.st_mode & S_IFMT) == S_IFDIR else {
            throw .directoryMissing(path: path, directory: dir)
        }
        return dir
    }

    public static func write(_ text: String, to path: String) throws(ReportingError) {
        let dir = directory(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? "output"
        var template = Array(((dir == "/" ? "/" : dir + "/") + "." + base + ".tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .cannotWrite(path: path, operation: "creating a temporary file in '\(dir)'", errno: errno) }
        let tmp = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        let e = writeAll(fd, text)
        if e != 0 {
            close(fd)
            throw ReportingError.cannotWrite(path: path, operation: "write", errno: e)
        }
        let mask = umask(0)
        umask(mask)
        if fchmod(fd, 0o666 & ~mask) != 0 {
            let e = errno; close(fd)
            throw ReportingError.cannotWrite(path: path, operation: "fchmod", errno: e)
        }
        if fsync(fd) != 0 {
            let e = errno; close(fd)
            throw ReportingError.cannotWrite(path: path, operation: "fsync", errno: e)
        }
        if close(fd) != 0 {
            throw ReportingError.cannotWrite(path: path, operation: "close", errno: errno)
        }
        if rename(tmp, path) != 0 {
            throw ReportingError.cannotWrite(path: path, operation: "rename", errno: errno)
        }
        ok = true
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}

/// Writes all of `text` to `fd`, retrying short writes and EINTR. Returns 0 or the errno.
func writeAll(_ fd: Int32, _ text: String) -> Int32 {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { buf in
            write(fd, buf.baseAddress! + offset, buf.count - offset)
        }
        if n > 0 { offset += n; continue }
        if n < 0 && errno == EINTR { continue }
        return n == 0 ? EIO : errno
    }
    return 0
}
