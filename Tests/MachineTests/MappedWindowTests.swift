import AArch64
import GuestProtocol
import Machine
import Testing

/// `MappedWindow`: a view of guest RAM in place. It must see exactly the bytes `GuestMemory`
/// reads and writes at the same addresses (little-endian, unaligned), exist only inside one
/// backed region, and decode/answer a message page as the byte-array path does.
@Suite struct MappedWindowTests {
    func memory() throws -> GuestMemory {
        try GuestMemory(
            map: try MemoryMap([
                MemoryRegion(name: "ram", base: PhysicalAddress(0x4000_0000), size: 0x2000, kind: .ram),
                MemoryRegion(name: "pool", base: PhysicalAddress(0x4000_2000), size: 0x1000, kind: .tablePool),
            ]))
    }

    @Test func sameBytesAsGuestMemory() throws {
        let mem = try memory()
        let w = try #require(mem.window(at: PhysicalAddress(0x4000_0100), count: 0x100))
        #expect(w.count == 0x100)
        w.store64(0x1122_3344_5566_7788, at: 3)
        #expect(try mem.read(UInt64.self, at: PhysicalAddress(0x4000_0103)) == 0x1122_3344_5566_7788)
        #expect(try mem.readBytes(at: PhysicalAddress(0x4000_0103), count: 2) == [0x88, 0x77])
        try mem.write(UInt32(0xdead_beef), at: PhysicalAddress(0x4000_01f0))
        #expect(w.load32(at: 0xf0) == 0xdead_beef)
        #expect(w.load64(at: 0xf8) == 0)
        w.store32(0x0102_0304, at: 0xfc)
        #expect(try mem.read(UInt32.self, at: PhysicalAddress(0x4000_01fc)) == 0x0102_0304)
    }

    @Test func onlyInsideOneBackedRegion() throws {
        let mem = try memory()
        #expect(mem.window(at: PhysicalAddress(0x4000_0000), count: 0x2000) != nil)
        #expect(mem.window(at: PhysicalAddress(0x4000_1f00), count: 0x200) == nil)  // straddles ram and pool
        #expect(mem.window(at: PhysicalAddress(0x3fff_f000), count: 8) == nil)
        #expect(mem.window(at: PhysicalAddress(0x4000_0000), count: -1) == nil)
    }

    @Test func messagePageInPlace() throws {
        let mem = try memory()
        let page = PhysicalAddress(0x4000_1000)
        let sent = MailboxMessage(
            kind: .trap, seq: 9, esr: 0x93cb_8007, far: 0x5000_0000, opIndex: 1, gprs: (0..<31).map { UInt64($0) * 3 })
        try mem.write(bytes: sent.encoded, at: page)
        let w = try #require(mem.window(at: page, count: GuestABI.messageSize))
        let got = try MailboxMessage(page: w, expectedSeq: 9, opCount: 4)
        #expect(got == (try MailboxMessage(bytes: sent.encoded, expectedSeq: 9, opCount: 4)))
        #expect(got.esr == 0x93cb_8007 && got.gpr(30) == 90)
        #expect(throws: GuestProtocolError.badSequence(9, expected: 10)) { try MailboxMessage(page: w, expectedSeq: 10, opCount: 4) }
        let reply = MailboxReply(seq: 9, action: .resume, tlbi: [.alle1is], vttbr: 0x1_0000_5000)
        try reply.write(into: w)
        let area = try mem.readBytes(at: page.advanced(by: UInt64(GuestABI.rplOffSeq)), count: GuestABI.messageSize - GuestABI.rplOffSeq)
        #expect(area == (try reply.encodedReplyArea()))
    }
}
