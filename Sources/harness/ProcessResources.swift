#if canImport(Glibc)
    import Glibc
#endif

/// What this process holds, from /proc/self: open file descriptors, resident memory and
/// memory mappings (a leak of any shows as growth over many VM lifetimes).
struct ProcessResources: Equatable {
    var fileDescriptors: Int
    var residentBytes: Int
    var mappings: Int

    static func now() -> ProcessResources {
        ProcessResources(fileDescriptors: countFileDescriptors(), residentBytes: residentBytes(), mappings: countMappings())
    }

    static func countFileDescriptors() -> Int {
        guard let d = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(d) }
        var n = 0
        while let e = readdir(d) {
            let first = withUnsafeBytes(of: e.pointee.d_name) { $0[0] }
            if first != UInt8(ascii: ".") { n += 1 }
        }
        return n - 1  // the directory stream's own descriptor
    }

    /// /proc/self/statm field 2 (resident pages) × page size.
    static func residentBytes() -> Int {
        let text = readSmallFile("/proc/self/statm")
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return -1 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func countMappings() -> Int {
        readSmallFile("/proc/self/maps").utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }

    static func readSmallFile(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
