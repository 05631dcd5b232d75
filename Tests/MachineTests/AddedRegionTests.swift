import AArch64
import Glibc
import KVM
import Machine
import Testing

/// Memslots added while the VM exists (`Machine.addRegion`) and completing a pending exit
/// without running the guest, on the real x86 KVM of this machine (real-mode guest at the
/// reset vector, as in MachineRunTests).
@Suite("Machine: regions added at run time", .serialized, .enabled(if: kvmUsable && !kvmHasARM64, "needs an x86 /dev/kvm"))
struct AddedRegionTests {
    @Test("an access to an unbacked page exits as MMIO; after addRegion the same page is guest RAM, dirty-logged")
    func lazyRegion() throws {
        try withKVMTestLock {
            let map = try MemoryMap([MemoryRegion(name: "reset", base: PhysicalAddress(0xFFFF_0000), size: 0x10000, kind: .ram)])
            let m = try Machine(MachineConfiguration(map: map, mode: .resetState))
            // mov byte [0x3010], 0x5a ; mov byte [0x3020], 0x66 ; hlt  (DS.base = 0 at reset)
            try m.memory.write(bytes: [0xC6, 0x06, 0x10, 0x30, 0x5A, 0xC6, 0x06, 0x20, 0x30, 0x66, 0xF4], at: PhysicalAddress(0xFFFF_FFF0))
            #expect(try m.run(timeout: .seconds(5)) == .mmio(address: PhysicalAddress(0x3010), length: 1, isWrite: true, data: 0x5A))
            let page = m.hostPageSize
            let slot = try m.addRegion(
                MemoryRegion(
                    name: "lazy", base: PhysicalAddress(0x3000 / page * page), size: page,
                    kind: .ram, logDirtyPages: true))
            #expect(slot == 1)
            #expect(m.memslots["lazy"] == 1)
            try m.completePendingExit()
            #expect(try m.run(timeout: .seconds(5)) == .halt)
            // The MMIO write went to the host, not memory; the second store hit the new memslot.
            #expect(try m.memory.read(UInt8.self, at: PhysicalAddress(0x3010)) == 0)
            #expect(try m.memory.read(UInt8.self, at: PhysicalAddress(0x3020)) == 0x66)
            #expect(try m.dirtyPages(region: "lazy") == [PhysicalAddress(0x3000 / page * page)])
            // Overlaps, duplicate names and misalignment are refused, naming the problem.
            #expect(throws: MachineError.self) {
                try m.addRegion(MemoryRegion(name: "again", base: PhysicalAddress(0x3000 / page * page), size: page, kind: .ram))
            }
            #expect(throws: MachineError.self) {
                try m.addRegion(MemoryRegion(name: "lazy", base: PhysicalAddress(0x10_0000), size: page, kind: .ram))
            }
            #expect(throws: MachineError.self) {
                try m.addRegion(MemoryRegion(name: "odd", base: PhysicalAddress(0x20_0800), size: page, kind: .ram))
            }
            #expect(throws: MachineError.self) {
                try m.addRegion(MemoryRegion(name: "reset2", base: PhysicalAddress(0xFFFF_8000), size: page, kind: .ram))
            }
        }
    }
}
