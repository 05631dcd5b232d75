import Machine

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
        // Names are descriptor numbers (none starts with "."), one of them the listing's own.
        guard let names = FileIO.directoryEntries("/proc/self/fd") else { return -1 }
        return names.count - 1  // the directory stream's own descriptor
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
        String(decoding: FileIO.readSmallFile(path), as: UTF8.self)
    }
}
