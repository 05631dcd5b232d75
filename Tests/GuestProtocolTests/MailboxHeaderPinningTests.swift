import Foundation
import Testing

@testable import GuestPayload
@testable import GuestProtocol

/// guest/include/mailbox.h, found relative to this source file.
private func headerText() throws -> String {
    let here = URL(fileURLWithPath: #filePath)
    let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return try String(contentsOf: root.appending(path: "guest/include/mailbox.h"), encoding: .utf8)
}

/// Every `#define NVH_NAME value` of the header (value: decimal or 0x hex, optional comment).
private func headerDefines() throws -> [String: UInt64] {
    var result: [String: UInt64] = [:]
    for line in try headerText().split(separator: "\n") {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 3, fields[0] == "#define", fields[1].hasPrefix("NVH_") else { continue }
        let token = String(fields[2])
        let value = token.hasPrefix("0x") ? UInt64(token.dropFirst(2), radix: 16) : UInt64(token)
        #expect(value != nil, "unparseable value \(token) for \(fields[1])")
        #expect(result[String(fields[1])] == nil, "\(fields[1]) defined twice")
        result[String(fields[1])] = value
    }
    return result
}

@Suite struct MailboxHeaderPinning {
    @Test func everySwiftConstantMatchesTheHeader() throws {
        let defines = try headerDefines()
        #expect(defines.count > 80)
        for (name, value) in GuestABI.headerConstants {
            #expect(
                defines[name] == value,
                "\(name): header \(defines[name].map { String($0, radix: 16) } ?? "missing"), Swift \(String(value, radix: 16))")
        }
    }

    @Test func everyHeaderConstantIsKnownToSwift() throws {
        let swiftNames = Set(GuestABI.headerConstants.map(\.name))
        let extra = try headerDefines().keys.filter { !swiftNames.contains($0) && $0 != "NVH_MAILBOX_H" }
        #expect(extra.isEmpty, "header defines not pinned in GuestABI: \(extra.sorted())")
    }

    /// Layout rules the payload relies on, derived from its code (not from the constants).
    @Test func layoutInvariants() {
        // x0..x30 fit between the GPR area and the reply; the frame holds 31 registers.
        #expect(GuestABI.msgOffGPRs + 8 * GuestABI.msgGPRCount <= GuestABI.rplOffSeq)
        #expect(GuestABI.frameSize >= 8 * GuestABI.msgGPRCount && GuestABI.frameSize % 16 == 0)
        #expect(GuestABI.rplOffTLBI + GuestABI.rplTLBIMax * GuestABI.rplTLBIEntrySize <= GuestABI.messageSize)
        // The interpreter indexes ops and results with `lsl #5`, and tests bit 16 of the
        // kind word for NVH_OP_FLAG_CHECK (`tbz w26, #16`).
        #expect(GuestABI.opSize == 32 && GuestABI.resultSize == 32)
        #expect(GuestABI.opFlagCheck == 1 << 16 && GuestABI.opKindMask & GuestABI.opFlagCheck == 0)
        #expect(UInt32(OpKind.allCases.count) <= GuestABI.opKindMask)
        // Every 64-bit field is 8-byte aligned (vEL2 runs with the MMU off: Device memory).
        for off in [
            GuestABI.msgOffSeq, GuestABI.msgOffESR, GuestABI.msgOffGPRs, GuestABI.rplOffSeq,
            GuestABI.rplOffTLBICount, GuestABI.rplOffTLBI, GuestABI.cfgOffResults, GuestABI.opOffAddress,
        ] {
            #expect(off % 8 == 0)
        }
        // "VNHPAYLD" read as bytes from the image.
        let magicBytes = (0..<8).map { UInt8(truncatingIfNeeded: GuestABI.imageMagic >> (8 * $0)) }
        #expect(String(decoding: magicBytes, as: UTF8.self) == "VNHPAYLD")
    }
}

@Suite struct PayloadImageTests {
    @Test func imageExportsWhatTheHostNeeds() throws {
        let image = PayloadImage.bytes
        #expect(image.count > GuestABI.imageHeaderSize)
        let header = try PayloadImage.header()
        // Offset 0 holds `b nvh_el2_entry`: B imm26 (Arm ARM C6.2.33), target = imm26 * 4.
        let insn = UInt32(image[0]) | UInt32(image[1]) << 8 | UInt32(image[2]) << 16 | UInt32(image[3]) << 24
        #expect(insn >> 26 == 0b000101)
        #expect(UInt64(insn & 0x03FF_FFFF) * 4 == header.el2Entry)
        #expect(header.el2Vectors % 0x800 == 0 && header.el1Vectors % 0x800 == 0)
        #expect(Set([header.el2Entry, header.nestedEntry, header.el2Vectors, header.el1Vectors]).count == 4)
        // The first instruction of the nested entry is `adr x9, nvh_el1_vectors`
        // (ADR: op=0, bits[28:24]=0b10000, Rd=9; Arm ARM C6.2.10).
        let n = Int(header.nestedEntry)
        let adr = UInt32(image[n]) | UInt32(image[n + 1]) << 8 | UInt32(image[n + 2]) << 16 | UInt32(image[n + 3]) << 24
        #expect(adr & 0x9F00_001F == 0x1000_0009)
        let immlo = UInt64((adr >> 29) & 3)
        let immhi = UInt64((adr >> 5) & 0x7FFFF)
        #expect(header.nestedEntry + (immhi << 2 | immlo) == header.el1Vectors)
    }

    @Test func corruptHeadersAreRejected() {
        var image = PayloadImage.bytes
        image[GuestABI.imageOffMagic] ^= 0xFF
        #expect(throws: GuestProtocolError.self) { try PayloadImage.parseHeader(image) }
        #expect(throws: GuestProtocolError.self) { try PayloadImage.parseHeader(Array(PayloadImage.bytes.prefix(16))) }
        var shifted = PayloadImage.bytes
        shifted[GuestABI.imageOffEL2Vectors] = 0x40
        #expect(throws: GuestProtocolError.self) { try PayloadImage.parseHeader(shifted) }
    }
}

@Suite struct MailboxMessageValidation {
    func sample(_ kind: MessageKind = .trap, seq: UInt64 = 3, opIndex: Int? = 1) -> MailboxMessage {
        MailboxMessage(
            kind: kind, seq: seq, esr: 0x93CB_8007, far: 0x5000_0000, hpfar: 0x8000_0000_0050_0000,
            elr: 0x4000_1234, spsr: 0x3C5, opIndex: opIndex, gprs: (0..<31).map { UInt64($0) * 3 })
    }

    @Test func roundTrip() throws {
        let m = sample()
        #expect(try MailboxMessage(bytes: m.encoded, expectedSeq: 3, opCount: 4) == m)
    }

    @Test func untrustedFieldsAreRejected() {
        let good = sample().encoded
        func corrupt(_ offset: Int, _ value: UInt64, _ bytes: Int) -> [UInt8] {
            var b = good
            for i in 0..<bytes { b[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
            return b
        }
        #expect(throws: GuestProtocolError.badMagic(0x1234)) {
            try MailboxMessage(bytes: corrupt(0, 0x1234, 4), expectedSeq: 3, opCount: 4)
        }
        #expect(throws: GuestProtocolError.badKind(99)) {
            try MailboxMessage(bytes: corrupt(GuestABI.msgOffKind, 99, 4), expectedSeq: 3, opCount: 4)
        }
        #expect(throws: GuestProtocolError.badSequence(3, expected: 4)) { try MailboxMessage(bytes: good, expectedSeq: 4, opCount: 4) }
        #expect(throws: GuestProtocolError.badOpIndex(7, opCount: 4)) {
            try MailboxMessage(bytes: corrupt(GuestABI.msgOffOpIndex, 7, 8), expectedSeq: 3, opCount: 4)
        }
        #expect(throws: GuestProtocolError.badVector(16)) {
            try MailboxMessage(bytes: corrupt(GuestABI.msgOffVector, 16, 4), expectedSeq: 3, opCount: 4)
        }
        #expect(throws: GuestProtocolError.truncated(100, expected: GuestABI.messageSize)) {
            try MailboxMessage(bytes: Array(good.prefix(100)), expectedSeq: 3, opCount: 4)
        }
        // DONE may name one past the last op, a TRAP may not.
        #expect(throws: GuestProtocolError.badOpIndex(4, opCount: 4)) {
            try MailboxMessage(bytes: corrupt(GuestABI.msgOffOpIndex, 4, 8), expectedSeq: 3, opCount: 4)
        }
        #expect((try? MailboxMessage(bytes: sample(.done, opIndex: 4).encoded, expectedSeq: 3, opCount: 4))?.opIndex == 4)
    }

    @Test func replyEncoding() throws {
        var page = [UInt8](repeating: 0xEE, count: GuestABI.messageSize)
        let reply = MailboxReply(seq: 9, action: .tlbiThenAck, tlbi: [.ipas2e1is(0x50000), .vmalle1is], vttbr: 0x1_0000_4000)
        try reply.write { off, value, n in for i in 0..<n { page[off + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) } }
        #expect(page.loadLE(UInt64.self, at: GuestABI.rplOffSeq) == 9)
        #expect(page.loadLE(UInt32.self, at: GuestABI.rplOffAction) == 5)
        #expect(page.loadLE(UInt32.self, at: GuestABI.rplOffFlags) == 1)
        #expect(page.loadLE(UInt64.self, at: GuestABI.rplOffTLBICount) == 2)
        #expect(page.loadLE(UInt64.self, at: GuestABI.rplOffTLBI) == 1)
        #expect(page.loadLE(UInt64.self, at: GuestABI.rplOffTLBI + 8) == 0x50000)
        #expect(page.loadLE(UInt64.self, at: GuestABI.rplOffTLBI + 16) == 4)
        #expect(page.loadLE(UInt64.self, at: GuestABI.rplOffVTTBR) == 0x1_0000_4000)
        let tooMany = MailboxReply(seq: 1, action: .resume, tlbi: Array(repeating: .vmalle1is, count: 17))
        #expect(throws: GuestProtocolError.tooManyTLBIs(17)) { try tooMany.write { _, _, _ in } }
        #expect(throws: GuestProtocolError.missingELR) { try MailboxReply(seq: 1, action: .setELR).validate() }
    }

    @Test func opEncoding() {
        let op = GuestOp(.cas64, address: 0x5000_0000, value: 0xAABB, aux: 7, repeatCount: 3)
        let b = op.encoded
        #expect(b.count == 32)
        #expect(b.loadLE(UInt32.self, at: 0) == 13 && b.loadLE(UInt32.self, at: 4) == 3)
        #expect(
            b.loadLE(UInt64.self, at: 8) == 0x5000_0000 && b.loadLE(UInt64.self, at: 16) == 0xAABB && b.loadLE(UInt64.self, at: 24) == 7)
    }
}

@Suite struct ReplyAreaEncoding {
    /// The one-write encoding and the field-by-field one put the same bytes in the page.
    @Test func replyAreaMatchesFieldWrites() throws {
        let reply = MailboxReply(
            seq: 77, action: .setELR, tlbi: [.ripas2e1is(0x1234), .alle1is, .ipas2e1(9)],
            elr: 0x4000_0040, vttbr: 0x1_0000_0000_5000, vtcr: 0x8002_3559, hcr: 0x8000_0001, vncr: 0x4082_0000)
        var page = [UInt8](repeating: 0, count: GuestABI.messageSize)
        try reply.write { off, value, n in for i in 0..<n { page[off + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) } }
        let area = try reply.encodedReplyArea()
        #expect(area.count == GuestABI.messageSize - GuestABI.rplOffSeq)
        #expect(Array(page[GuestABI.rplOffSeq...]) == area)
        #expect(area.loadLE(UInt32.self, at: GuestABI.rplOffFlags - GuestABI.rplOffSeq) == 0b1_0111)
        // VNCR_EL2 sits in the last 8 bytes of the page, after the 16 TLBI entries.
        #expect(area.loadLE(UInt64.self, at: GuestABI.rplOffVNCR - GuestABI.rplOffSeq) == 0x4082_0000)
        #expect(GuestABI.rplOffVNCR == GuestABI.rplOffTLBI + GuestABI.rplTLBIMax * GuestABI.rplTLBIEntrySize)
        #expect(GuestABI.rplOffVNCR + 8 == GuestABI.messageSize)
        #expect(area.loadLE(UInt64.self, at: GuestABI.rplOffTLBI - GuestABI.rplOffSeq) == 8)
        // In place into a page (what the session does with the guest's message page).
        let inPlace = BytePage(count: GuestABI.messageSize)
        try reply.write(into: inPlace)
        #expect(inPlace.bytes == page)
        let withRegisters = MailboxReply(seq: 1, action: .resume, gprs: (0..<31).map { UInt64($0) << 32 | 7 })
        try withRegisters.write(into: inPlace)
        #expect(inPlace.bytes.loadLE(UInt64.self, at: GuestABI.msgOffGPRs + 8 * 30) == 30 << 32 | 7)
        #expect(throws: GuestProtocolError.truncated(8, expected: GuestABI.messageSize)) {
            try withRegisters.write(into: BytePage(count: 8))
        }
        // Decoding from a page view gives what decoding the copied bytes gives.
        let hello = MailboxMessage(kind: .hello, seq: 5, esr: 0x9300_0045, gprs: (0..<31).map { UInt64($0) })
        let view = BytePage(count: GuestABI.messageSize)
        view.bytes = hello.encoded
        let viaPage = try MailboxMessage(page: view, expectedSeq: 5, opCount: 0)
        #expect(viaPage == (try MailboxMessage(bytes: hello.encoded, expectedSeq: 5, opCount: 0)))
        #expect(viaPage.esr == 0x9300_0045 && viaPage.gpr(30) == 30)
    }
}
