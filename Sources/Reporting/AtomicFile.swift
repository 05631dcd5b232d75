import CTempFiles

import enum Machine.FileIO

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a whole file or nothing — the one atomic writer for reports and stage-2 images.
/// The bytes go to a temporary file in the same directory (`.NAME.tmp-XXXXXX`, made by
/// mkstemp so a stale one from an earlier process never collides, and cut so it fits
/// NAME_MAX), which is fsynced, renamed over `path`, and the directory fsynced so the rename
/// is durable. On any error the temporary file is removed and `path` is left as it was; a
/// SIGINT/SIGTERM during the write removes it too (`ctemp_install_handlers`).
/// The new file gets mode 0666 & ~umask, like a file created with open(2).
public enum AtomicFile {
    /// Linux NAME_MAX: the longest file name (one path component), in bytes.
    public static let nameMax = 255
    static let suffix = ".tmp-XXXXXX"

    /// Checks early (before a long run) that `path` names a writable place: not empty, not a
    /// directory, a name within NAME_MAX, its directory exists and is writable. Returns the directory.
    @discardableResult
    public static func validate(path: String) throws(ReportingError) -> String {
        guard !path.isEmpty else { throw .emptyPath }
        let dir = directory(of: path)
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { throw .outputIsDirectory(path: path) }
        if path.hasSuffix("/") { throw .outputIsDirectory(path: path) }
        let name = baseName(of: path)
        if name.utf8.count > nameMax { throw .nameTooLong(path: path, bytes: name.utf8.count) }
        var dst = stat()
        guard stat(dir, &dst) == 0, (dst.st_mode & S_IFMT) == S_IFDIR else {
            throw .directoryMissing(path: path, directory: dir)
        }
        if access(dir, W_OK | X_OK) != 0 { throw .directoryNotWritable(path: path, directory: dir, errno: errno) }
        return dir
    }

    public static func write(_ text: String, to path: String) throws(ReportingError) {
        // The default beforeRename does not throw, so every error here is a ReportingError.
        do { try write(to: path, contents: { FileIO.writeAll($0, text) }) } catch {
            if let e = error as? ReportingError { throw e }
        }
    }

    /// `contents` writes the whole file to the descriptor it is given and returns 0 or the
    /// errno (`FileIO.writeAll`). `beforeRename` runs when the data is safely in the temporary
    /// file; if it throws, the temporary file is removed, `path` is untouched and its error is
    /// rethrown (a tool that cannot print its result leaves no image either).
    public static func write(
        to path: String, contents: (Int32) -> Int32,
        beforeRename: () throws -> Void = {}
    ) throws {
        guard !path.isEmpty else { throw ReportingError.emptyPath }
        let dir = directory(of: path)
        let template = temporaryName(for: path)
        _ = ctemp_install_handlers()
        var slot: Int32 = -1
        let fd = ctemp_mkstemp(template, &slot)
        guard fd >= 0 else {
            throw ReportingError.cannotWrite(path: path, operation: "creating a temporary file in '\(dir)'", errno: errno)
        }
        defer { ctemp_unregister(slot) }
        let tmp = String(cString: ctemp_path(slot))
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        let e = contents(fd)
        if e != 0 {
            close(fd)
            throw ReportingError.cannotWrite(path: path, operation: "write", errno: e)
        }
        let mask = umask(0)
        umask(mask)
        if fchmod(fd, 0o666 & ~mask) != 0 {
            let e = errno
            close(fd)
            throw ReportingError.cannotWrite(path: path, operation: "fchmod", errno: e)
        }
        if fsync(fd) != 0 {
            let e = errno
            close(fd)
            throw ReportingError.cannotWrite(path: path, operation: "fsync", errno: e)
        }
        if close(fd) != 0 {
            throw ReportingError.cannotWrite(path: path, operation: "close", errno: errno)
        }
        try beforeRename()
        if rename(tmp, path) != 0 {
            throw ReportingError.cannotWrite(path: path, operation: "rename", errno: errno)
        }
        ok = true
        // Make the rename itself durable. A directory that cannot be opened or synced (some
        // file systems refuse fsync on directories with EINVAL) leaves the file in place.
        let dfd = open(dir, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// `DIR/.NAME.tmp-XXXXXX` with NAME cut (at a character boundary) so the whole component
    /// fits NAME_MAX.
    static func temporaryName(for path: String) -> String {
        let dir = directory(of: path)
        var base = baseName(of: path)
        let room = nameMax - 1 - suffix.utf8.count
        while base.utf8.count > room { base.removeLast() }
        return (dir == "/" ? "/" : dir + "/") + "." + base + suffix
    }

    static func baseName(of path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? "output"
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
