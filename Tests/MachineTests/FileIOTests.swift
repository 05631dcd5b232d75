import Glibc
import Machine
import Testing

/// `FileIO`: every byte written or read, and the errno of a failure passed back unchanged.
@Suite struct FileIOTests {
    func errno<T>(of result: Result<T, FileIO.Failure>) -> Int32? {
        if case .failure(let f) = result { return f.errno }
        return nil
    }

    @Test func writeAllThenReadAllRoundTripsThroughAPipe() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let bytes = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        // Under the 64 KiB pipe buffer, so the write completes before anything reads.
        #expect(FileIO.writeAll(fds[1], bytes) == 0)
        close(fds[1])
        #expect(try FileIO.readAll(fds[0]).get() == bytes)
    }

    @Test func writeErrorsReturnTheErrno() throws {
        let fd = open("/dev/full", O_WRONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        #expect(FileIO.writeAll(fd, "report\n") == ENOSPC)
        #expect(FileIO.writeAll(-1, [1, 2, 3]) == EBADF)
        #expect(FileIO.writeAll(fd, [UInt8]()) == 0)  // nothing to write: no call
    }

    @Test func readErrorsReturnTheErrno() {
        #expect(errno(of: FileIO.readAll(-1)) == EBADF)
        #expect(FileIO.readSmallFile("/nonexistent/nvh-file-io") == [])
    }

    @Test func smallFileIsReadWhole() {
        let maps = FileIO.readSmallFile("/proc/self/maps")
        // More than one 64 KiB read would be needed only for huge maps; at least one line here.
        #expect(maps.contains(UInt8(ascii: "\n")))
        #expect(String(decoding: FileIO.readSmallFile("/proc/self/stat"), as: UTF8.self).hasPrefix("\(getpid()) "))
    }

    @Test func temporaryDirectoryAndItsListing() throws {
        let dir = try FileIO.makeTemporaryDirectory("/tmp/nvh-fileio-XXXXXX").get()
        defer { rmdir(dir) }
        #expect(dir.hasPrefix("/tmp/nvh-fileio-") && !dir.hasSuffix("XXXXXX"))
        #expect(FileIO.directoryEntries(dir) == [])
        let fd = open(dir + "/a", O_CREAT | O_WRONLY, 0o600)
        try #require(fd >= 0)
        close(fd)
        defer { unlink(dir + "/a") }
        #expect(FileIO.directoryEntries(dir) == ["a"])
        #expect(FileIO.directoryEntries(dir + "/missing") == nil)
        #expect(errno(of: FileIO.makeTemporaryDirectory("/nonexistent/nvh-XXXXXX")) == ENOENT)
        #expect(errno(of: FileIO.makeTemporaryDirectory("/tmp/no-placeholder")) == EINVAL)
    }

    @Test func unameDescriptionMatchesUname() throws {
        let d = try #require(HostProbe.unameDescription())
        let (machine, release) = try #require(HostProbe.uname())
        #expect(d == "Linux \(release) \(machine)")
    }
}
