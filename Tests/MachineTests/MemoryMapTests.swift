import AArch64
import Glibc
import Machine
import Stage2
import Testing

@Suite("MemoryMap: regions as data, checked for overlap")
struct MemoryMapTests {
    let ram = MemoryRegion(name: "ram", base: PhysicalAddress(0x4000_0000), size: 0x100_0000, kind: .ram)
    let pool = MemoryRegion(name: "pool", base: PhysicalAddress(0x4100_0000), size: 0x10_0000, kind: .tablePool)
    let mailbox = MemoryRegion(name: "mailbox", base: PhysicalAddress(0x0A00_0000), size: 0x1000, kind: .mailbox)

    @Test("adjacent regions are fine and come back sorted by base")
    func adjacent() throws {
        let map = try MemoryMap([pool, ram, mailbox])
        #expect(map.regions.map(\.name) == ["mailbox", "ram", "pool"])
        #expect(try map.region(named: "pool") == pool)
        #expect(map.region(containing: PhysicalAddress(0x40FF_FFF8), length: 8) == ram)
        #expect(map.region(containing: PhysicalAddress(0x40FF_FFFC), length: 8) == nil)  // straddles ram|pool
    }

    @Test("an overlap names both regions")
    func overlap() {
        let clash = MemoryRegion(name: "payload", base: PhysicalAddress(0x40FF_F000), size: 0x2000, kind: .payload)
        #expect(throws: MemoryMapError.overlap(ram, clash)) { try MemoryMap([ram, clash, pool]) }
        do { _ = try MemoryMap([ram, clash]) } catch {
            #expect(error.description.contains("ram [ram] 0x40000000..0x40ffffff"))
            #expect(error.description.contains("payload [payload] 0x40fff000..0x41000fff"))
        }
        // One region entirely inside another also overlaps.
        let inner = MemoryRegion(name: "inner", base: PhysicalAddress(0x4000_1000), size: 0x1000, kind: .mmio)
        #expect(throws: MemoryMapError.overlap(ram, inner)) { try MemoryMap([inner, ram]) }
    }

    @Test("empty, wrapping and duplicate regions are rejected")
    func malformed() {
        #expect(throws: MemoryMapError.empty(region: "z")) {
            try MemoryMap([MemoryRegion(name: "z", base: PhysicalAddress(0), size: 0, kind: .ram)])
        }
        #expect(throws: MemoryMapError.wrapsAround(region: "w")) {
            try MemoryMap([MemoryRegion(name: "w", base: PhysicalAddress(UInt64.max - 0xFFF), size: 0x2000, kind: .ram)])
        }
        #expect(throws: MemoryMapError.duplicateName("ram")) {
            try MemoryMap([ram, MemoryRegion(name: "ram", base: PhysicalAddress(0x5000_0000), size: 0x1000, kind: .ram)])
        }
        #expect(throws: MemoryMapError.noSuchRegion("nope")) { _ = try MemoryMap([ram]).region(named: "nope") }
    }

    @Test("backed regions must be host-page aligned; unbacked ones need not be")
    func alignment() throws {
        let odd = MemoryRegion(name: "odd", base: PhysicalAddress(0x5000_0800), size: 0x1000, kind: .ram)
        #expect(throws: MemoryMapError.misaligned(region: "odd", alignment: 0x1000)) {
            try MemoryMap([odd]).checkBackedAlignment(0x1000)
        }
        let oddMMIO = MemoryRegion(name: "dev", base: PhysicalAddress(0x5000_0800), size: 0x100, kind: .mmio)
        try MemoryMap([oddMMIO]).checkBackedAlignment(0x1000)
    }

    @Test("the vGICv3 regions: distributor 64 KiB, one 128 KiB redistributor pair per vCPU")
    func gicRegions() throws {
        let regions = MemoryMap.gicRegions(vcpus: 2)
        #expect(regions[0].size == 0x1_0000)
        #expect(regions[1].size == 0x4_0000)
        _ = try MemoryMap(regions + [ram])
    }
}

@Suite("GuestMemory: bounds-checked little-endian access")
struct GuestMemoryTests {
    func memory() throws -> (MemoryMap, GuestMemory) {
        let map = try MemoryMap([
            MemoryRegion(name: "ram", base: PhysicalAddress(0x4000_0000), size: 0x2000, kind: .ram),
            MemoryRegion(name: "pool", base: PhysicalAddress(0x4000_2000), size: 0x1000, kind: .tablePool),
            MemoryRegion(name: "mailbox", base: PhysicalAddress(0x0A00_0000), size: 0x1000, kind: .mailbox),
        ])
        return (map, try GuestMemory(map: map))
    }

    @Test("only backed regions are mapped, zero-filled")
    func backings() throws {
        let (_, mem) = try memory()
        #expect(mem.backings.map(\.region.name) == ["ram", "pool"])
        #expect(try mem.read(UInt64.self, at: PhysicalAddress(0x4000_1234)) == 0)
    }

    @Test("values are stored little-endian at any alignment")
    func littleEndian() throws {
        let (_, mem) = try memory()
        try mem.write(UInt32(0x1122_3344), at: PhysicalAddress(0x4000_0003))
        #expect(try mem.readBytes(at: PhysicalAddress(0x4000_0003), count: 4) == [0x44, 0x33, 0x22, 0x11])
        try mem.write(bytes: [1, 2, 3, 4, 5, 6, 7, 8], at: PhysicalAddress(0x4000_0100))
        #expect(try mem.read(UInt64.self, at: PhysicalAddress(0x4000_0100)) == 0x0807_0605_0403_0201)
        #expect(try mem.read(UInt16.self, at: PhysicalAddress(0x4000_0101)) == 0x0302)
    }

    @Test("the last bytes of a region are reachable; one past is not")
    func edges() throws {
        let (_, mem) = try memory()
        try mem.write(UInt64.max, at: PhysicalAddress(0x4000_1FF8))
        #expect(throws: GuestMemoryError.self) { try mem.write(UInt64(1), at: PhysicalAddress(0x4000_2FF9)) }
        #expect(throws: GuestMemoryError.self) { _ = try mem.read(UInt8.self, at: PhysicalAddress(0x4000_3000)) }
        #expect(throws: GuestMemoryError.self) { _ = try mem.read(UInt8.self, at: PhysicalAddress(0x3FFF_FFFF)) }
    }

    @Test("an access straddling two regions is refused even when they are adjacent")
    func straddle() throws {
        let (_, mem) = try memory()
        #expect(throws: GuestMemoryError.outOfBounds(address: PhysicalAddress(0x4000_1FFC), length: 8, backed: ["ram", "pool"])) {
            _ = try mem.read(UInt64.self, at: PhysicalAddress(0x4000_1FFC))
        }
    }

    @Test("unbacked regions (the mailbox) and absurd lengths are refused, not crashed on")
    func untrusted() throws {
        let (_, mem) = try memory()
        #expect(throws: GuestMemoryError.self) { _ = try mem.read(UInt32.self, at: PhysicalAddress(0x0A00_0000)) }
        #expect(throws: GuestMemoryError.self) { _ = try mem.readBytes(at: PhysicalAddress(0x4000_0000), count: 0x2001) }
        #expect(throws: GuestMemoryError.self) { _ = try mem.readBytes(at: PhysicalAddress(0x4000_0000), count: -1) }
        #expect(throws: GuestMemoryError.self) { try mem.fill(0, at: PhysicalAddress(UInt64.max - 3), count: 8) }
        #expect(throws: GuestMemoryError.self) { _ = try mem.read(UInt64.self, at: PhysicalAddress(UInt64.max - 3)) }
    }

    @Test("replace gives a host page new zero-filled memory; the rest of the region keeps its bytes")
    func replaceBacking() throws {
        let (_, mem) = try memory()
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        guard page <= 0x1000 else { return }  // the region is two 4K pages
        try mem.fill(0xA5, at: PhysicalAddress(0x4000_0000), count: 0x2000)
        try mem.replace(PhysicalAddress(0x4000_1000), size: page, hostPageSize: page)
        #expect(try mem.readBytes(at: PhysicalAddress(0x4000_1000), count: Int(page)).allSatisfy { $0 == 0 })
        #expect(try mem.readBytes(at: PhysicalAddress(0x4000_0000), count: 0x1000).allSatisfy { $0 == 0xA5 })
        try mem.write(UInt64(0x1234), at: PhysicalAddress(0x4000_1008))
        #expect(try mem.read(UInt64.self, at: PhysicalAddress(0x4000_1008)) == 0x1234)
        try mem.replace(PhysicalAddress(0x4000_1000), size: page, hostPageSize: page, copy: true)
        #expect(try mem.read(UInt64.self, at: PhysicalAddress(0x4000_1008)) == 0x1234, "a copying replacement keeps the bytes")
        #expect(throws: GuestMemoryError.self) { try mem.replace(PhysicalAddress(0x4000_0800), size: page, hostPageSize: page) }
        #expect(throws: GuestMemoryError.self) { try mem.replace(PhysicalAddress(0x4000_1000), size: 0x2000, hostPageSize: page) }
    }

    @Test("a region that cannot be mapped is a clear error naming it")
    func mapFailure() throws {
        let map = try MemoryMap([MemoryRegion(name: "huge", base: PhysicalAddress(0), size: 1 << 62, kind: .ram)])
        do {
            _ = try GuestMemory(map: map)
            Issue.record("mapped 4 EiB")
        } catch {
            guard case let .mapFailed(region, bytes, _) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(region == "huge")
            #expect(bytes == 1 << 62)
            #expect(error.description.contains("cannot map"))
        }
    }

    @Test("as Stage2 TableMemory: descriptors round-trip, isBacked follows the regions")
    func tableMemory() throws {
        let (_, mem) = try memory()
        let seam: any TableMemory = mem
        seam.writeDescriptor(0x0040_0000_4000_07FF, at: PhysicalAddress(0x4000_2010))
        #expect(seam.readDescriptor(at: PhysicalAddress(0x4000_2010)) == 0x0040_0000_4000_07FF)
        #expect(try mem.readBytes(at: PhysicalAddress(0x4000_2010), count: 2) == [0xFF, 0x07])
        #expect(seam.isBacked(PhysicalAddress(0x4000_2FF8)))
        #expect(!seam.isBacked(PhysicalAddress(0x4000_2FFC)))
        #expect(!seam.isBacked(PhysicalAddress(0x0A00_0000)))
        #expect(seam.readDescriptor(at: PhysicalAddress(0x0A00_0000)) == 0)
        seam.zero(at: PhysicalAddress(0x4000_2000), bytes: 0x1000)
        #expect(seam.readDescriptor(at: PhysicalAddress(0x4000_2010)) == 0)
    }
}
