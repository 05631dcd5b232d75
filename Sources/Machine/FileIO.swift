import Glibc
import Stage2

/// Plain POSIX file I/O for code outside Machine: whole writes and reads on a descriptor,
/// small files, scratch directories and directory listings. Errors come back as errno values,
/// so callers keep their own messages.
public enum FileIO {
    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR. Returns 0 or the errno
    /// (EIO when write(2) returns 0).
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        // SAFETY: writeAll(_:_:) reads only inside the array's own buffer, which lives for the call.
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    /// Writes all of `text` (UTF-8) to `fd`, as `writeAll(_:_:)` for bytes.
    public static func writeAll(_ fd: Int32, _ text: String) -> Int32 {
        writeAll(fd, Array(text.utf8))
    }

    /// Writes the whole table pool of `memory` to `fd` without copying it, as `writeAll(_:_:)`.
    public static func writeAll(_ fd: Int32, _ memory: ByteBufferTableMemory) -> Int32 {
        // SAFETY: the pool's buffer is read only inside its own bounds while `memory` is alive.
        memory.withUnsafeBytes { writeAll(fd, $0) }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        var offset = 0
        while offset < bytes.count {
            // SAFETY: offset < count, so [offset, count) lies inside the caller's buffer.
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 {
                offset += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            return n == 0 ? EIO : errno
        }
        return 0
    }

    /// Reads `fd` to its end, retrying EINTR: the bytes, or the errno of the failed read(2).
    public static func readAll(_ fd: Int32) -> Result<[UInt8], Failure> {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            // SAFETY: read(2) writes at most buffer.count bytes into the array's own storage.
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return .failure(Failure(errno: errno)) }
            if n == 0 { return .success(out) }
            out += buffer[0..<n]
        }
    }

    /// The errno of a failed call.
    public struct Failure: Error, Equatable {
        public let errno: Int32
    }

    /// The bytes of a small file such as /proc/self/statm, up to the first failed read; empty
    /// when it cannot be opened.
    public static func readSmallFile(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            // SAFETY: read(2) writes at most buffer.count bytes into the array's own storage.
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return out }
            out += buffer[0..<n]
        }
    }

    /// mkdtemp(3): a new directory from `template` (ending in XXXXXX); its path, or the errno.
    public static func makeTemporaryDirectory(_ template: String) -> Result<String, Failure> {
        var buffer = Array(template.utf8CString)
        // SAFETY: mkdtemp rewrites the XXXXXX in place inside the NUL-terminated array.
        guard buffer.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            return .failure(Failure(errno: errno))
        }
        return .success(String(decoding: buffer.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// The names in directory `path` (without "." and ".."), nil when it cannot be opened.
    public static func directoryEntries(_ path: String) -> [String]? {
        guard let d = opendir(path) else { return nil }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            // SAFETY: readdir's entry stays valid until the next readdir; d_name is NUL-terminated
            // inside its fixed-size array and is read within that array's size.
            let name = withUnsafeBytes(of: &e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }
}
