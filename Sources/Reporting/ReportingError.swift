#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

public enum ReportingError: Error, CustomStringConvertible, Equatable {
    /// The `--output` path cannot be written: what, where, why.
    case cannotWrite(path: String, operation: String, errno: Int32)
    case outputIsDirectory(path: String)
    case directoryMissing(path: String, directory: String)
    case emptyPath
    case directoryNotWritable(path: String, directory: String, errno: Int32)
    case nameTooLong(path: String, bytes: Int)
    /// A write of the report to a stream (stdout) failed: the report there is incomplete.
    case cannotWriteStream(name: String, errno: Int32)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let op, let e):
            let reason = String(cString: strerror(e))
            return "cannot write '\(Escape.terminal(path))': \(op) failed: \(reason) (errno \(e)); no partial file was left"
        case .outputIsDirectory(let path):
            return
                "'\(Escape.terminal(path))' is a directory; give a file name such as '\(Escape.terminal(path.hasSuffix("/") ? path : path + "/"))results.xml'"
        case .directoryMissing(let path, let dir):
            return "'\(Escape.terminal(path))': directory '\(Escape.terminal(dir))' does not exist"
        case .emptyPath:
            return "the file name is empty"
        case .directoryNotWritable(let path, let dir, let e):
            return
                "'\(Escape.terminal(path))': directory '\(Escape.terminal(dir))' is not writable: \(String(cString: strerror(e))) (errno \(e))"
        case .nameTooLong(let path, let bytes):
            return "'\(Escape.terminal(path))': the file name is \(bytes) bytes, more than NAME_MAX (\(AtomicFile.nameMax))"
        case .cannotWriteStream(let name, let e):
            return "cannot write the report to \(name): \(String(cString: strerror(e))) (errno \(e)); the report there is incomplete"
        }
    }
}
