import enum Machine.FileIO

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
    /// The errno of the first write that failed, or nil: the reporter turns it into an error.
    var writeError: Int32? { get }
}

/// A file descriptor (stdout/stderr). Retries short writes and EINTR. A failed write (ENOSPC
/// on /dev/full, EBADF on a closed descriptor, EIO) is kept in `writeError` and later text is
/// dropped: the report is already incomplete, and the run ends with an error, not a crash.
public final class FileDescriptorSink: TextSink {
    public let fd: Int32
    public private(set) var writeError: Int32?
    public init(fd: Int32) { self.fd = fd }

    public static func standardOutput() -> FileDescriptorSink { FileDescriptorSink(fd: 1) }
    public static func standardError() -> FileDescriptorSink { FileDescriptorSink(fd: 2) }

    public var isTerminal: Bool { isatty(fd) == 1 }

    public func write(_ text: String) {
        guard writeError == nil else { return }
        let e = FileIO.writeAll(fd, text)
        if e != 0 { writeError = e }
    }
}

/// Collects text in memory (tests, or building a file's contents).
public final class StringSink: TextSink {
    public private(set) var text = ""
    public let isTerminal: Bool
    public var writeError: Int32? { nil }
    public init(isTerminal: Bool = false) { self.isTerminal = isTerminal }
    public func write(_ text: String) { self.text += text }
}
