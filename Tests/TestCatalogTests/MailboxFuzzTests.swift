import AArch64
import Foundation
import Testing

@testable import GuestProtocol
@testable import Runtime
@testable import TestCatalog

#if canImport(Glibc)
    import Glibc
#endif

/// A scripted guest with sparse memory (4 KiB pages made on first write), so a fuzz run can
/// afford a fresh backend per message. The script is the scripted backend's: HELLO, then the
/// hostile message; after that the guest "exits" (a shutdown the runner must treat as a failure).
final class SparseScriptedBackend: GuestBackend {
    let layout = SessionLayout.standard
    /// Page number → 4 KiB of host memory; pages only written with zeros are not made.
    var pages: [UInt64: UnsafeMutableRawPointer] = [:]
    var script: [(SparseScriptedBackend) throws -> BackendExit]
    var runs = 0
    let zeroPage = [UInt8](repeating: 0, count: 4096)
    init(_ script: [(SparseScriptedBackend) throws -> BackendExit]) { self.script = script }
    deinit { for p in pages.values { p.deallocate() } }

    func check(_ a: PhysicalAddress, _ n: Int) throws {
        let o = a.rawValue &- layout.ramBase.rawValue
        guard n >= 0, o < layout.ramSize, UInt64(n) <= layout.ramSize - o else { throw BackendError.memory("unbacked \(a)") }
    }
    func page(_ number: UInt64) -> UnsafeMutableRawPointer {
        if let p = pages[number] { return p }
        let p = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
        pages[number] = p
        return p
    }
    func read(_ address: PhysicalAddress, count: Int) throws -> [UInt8] {
        try check(address, count)
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { dst in
            var done = 0
            while done < count {
                let a = address.rawValue + UInt64(done)
                let inPage = Int(a & 0xFFF)
                let n = min(4096 - inPage, count - done)
                if let p = pages[a >> 12] { (dst.baseAddress! + done).copyMemory(from: p + inPage, byteCount: n) }
                done += n
            }
        }
        return out
    }
    func write(_ bytes: [UInt8], at address: PhysicalAddress) throws {
        try check(address, bytes.count)
        bytes.withUnsafeBytes { src in
            var done = 0
            while done < bytes.count {
                let a = address.rawValue + UInt64(done)
                let inPage = Int(a & 0xFFF)
                let n = min(4096 - inPage, bytes.count - done)
                // Zeros into a page never written stay implicit (the table pool is cleared on setup).
                if pages[a >> 12] != nil || memcmp(src.baseAddress! + done, zeroPage, n) != 0 {
                    (page(a >> 12) + inPage).copyMemory(from: src.baseAddress! + done, byteCount: n)
                }
                done += n
            }
        }
    }
    func read64(_ address: PhysicalAddress) throws -> UInt64 {
        try check(address, 8)
        guard address.rawValue & 7 == 0 else { return try read(address, count: 8).loadLE(UInt64.self, at: 0) }
        guard let p = pages[address.rawValue >> 12] else { return 0 }
        return UInt64(littleEndian: p.load(fromByteOffset: Int(address.rawValue & 0xFFF), as: UInt64.self))
    }
    func write64(_ value: UInt64, at address: PhysicalAddress) throws {
        try check(address, 8)
        guard address.rawValue & 7 == 0 else {
            return try write((0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }, at: address)
        }
        if value == 0 && pages[address.rawValue >> 12] == nil { return }
        page(address.rawValue >> 12).storeBytes(of: value.littleEndian, toByteOffset: Int(address.rawValue & 0xFFF), as: UInt64.self)
    }
    func run() throws -> BackendExit {
        guard runs < script.count else { return .other("guest exited (end of script)") }
        runs += 1
        return try script[runs - 1](self)
    }
    func completeMMIORead(_ value: UInt64) throws {}
    func trapRegisters() throws -> (esr: UInt64, far: UInt64, hpfar: UInt64)? { nil }
    var recentExits: [String] { [] }

    static func send(_ bytes: [UInt8], doorbell: UInt64) -> (SparseScriptedBackend) throws -> BackendExit {
        { b in
            try b.write(bytes, at: b.layout.message)
            return .mmio(address: b.layout.doorbell, length: 8, isWrite: true, data: doorbell)
        }
    }
}

/// ≥ 100,000 random and corrupted guest messages through the host-side decoder and the
/// runner's reaction (ScenarioRunner over the sparse scripted backend): no crash, no hang, no
/// access outside the message; every message with an invalid field fails the test with a
/// message naming that field.
@Suite struct MailboxFuzzTests {
    /// xorshift64*: deterministic, so a failure names a reproducible iteration.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
    }

    static let hello = SimulatedHello.message().encoded

    /// One field made invalid on purpose, and the words the failure must contain.
    enum Corruption: CaseIterable {
        case randomPage, magic, version, kind, vector, sequence, opIndex, doorbell, truncatedKindSwap
    }

    static func outcome(_ message: [UInt8], doorbell: UInt64, scenario: Scenario) -> Outcome {
        let backend = SparseScriptedBackend([
            SparseScriptedBackend.send(hello, doorbell: 1),
            SparseScriptedBackend.send(message, doorbell: doorbell),
        ])
        return ScenarioRunner(log: { _ in }).run(scenario, requirements: [], backend: backend) { _, _ in }.outcome
    }

    @Test func hundredThousandHostileMessagesFailCleanlyNamingTheField() throws {
        let scenario = try DemandPaging.scenario(granule: .k4, ipaBits: 40)
        let opCount = scenario.ops.count
        var rng = Generator(state: 0x9E37_79B9_7F4A_7C15)
        var counts: [String: Int] = [:]
        let total = Int(ProcessInfo.processInfo.environment["NVH_MAILBOX_FUZZ_COUNT"] ?? "") ?? 100_000
        for iteration in 0..<total {
            let corruption = Corruption.allCases[Int(rng.next() % UInt64(Corruption.allCases.count))]
            // A valid TRAP for op 0 with random registers, then one field broken.
            var gprs = (0..<31).map { _ in rng.next() }
            gprs[0] = rng.next()
            var bytes = MailboxMessage(
                kind: .trap, seq: 2, esr: rng.next(), far: rng.next(), hpfar: rng.next(),
                elr: rng.next(), spsr: rng.next(), opIndex: 0, gprs: gprs
            ).encoded
            var doorbell: UInt64 = 2
            let expect: [String]
            switch corruption {
            case .randomPage:
                bytes = (0..<GuestABI.messageSize).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if bytes.loadLE(UInt32.self, at: GuestABI.msgOffMagic) == GuestABI.messageMagic { bytes[0] ^= 1 }
                expect = ["bad magic"]
            case .magic:
                var m = UInt32(truncatingIfNeeded: rng.next())
                if m == GuestABI.messageMagic { m ^= 1 }
                bytes.storeLE(m, at: GuestABI.msgOffMagic)
                expect = ["bad magic"]
            case .version:
                var v = UInt32(truncatingIfNeeded: rng.next())
                if v == GuestABI.messageVersion { v &+= 1 }
                bytes.storeLE(v, at: GuestABI.msgOffVersion)
                expect = ["version \(v)"]
            case .kind:
                var k = UInt32(truncatingIfNeeded: rng.next())
                if MessageKind(rawValue: k) != nil { k = 0 }
                bytes.storeLE(k, at: GuestABI.msgOffKind)
                expect = ["unknown kind \(k)"]
            case .vector:
                let v = UInt32(16) + UInt32(truncatingIfNeeded: rng.next() % (UInt64(UInt32.max) - 16))
                bytes.storeLE(v, at: GuestABI.msgOffVector)
                expect = ["vector \(v)"]
            case .sequence:
                var s = rng.next()
                if s == 2 { s = 3 }
                bytes.storeLE(s, at: GuestABI.msgOffSeq)
                expect = ["sequence number \(s)"]
            case .opIndex:
                let i = UInt64(opCount) + rng.next() % (UInt64.max - UInt64(opCount) - 1)
                bytes.storeLE(i, at: GuestABI.msgOffOpIndex)
                expect = ["op index \(i)"]
            case .doorbell:
                doorbell = rng.next()
                if doorbell == 2 { doorbell = 0 }
                expect = ["doorbell carried sequence number \(doorbell)"]
            case .truncatedKindSwap:
                // A valid header for another kind with the rest random: HELLO again, or a
                // BAD_CONFIG/BAD_REPLY/PANIC from the payload — the run must fail and say so.
                let kinds: [MessageKind] = [.hello, .badConfig, .badReply, .panic]
                let k = kinds[Int(rng.next() % 4)]
                bytes.storeLE(k.rawValue, at: GuestABI.msgOffKind)
                expect = [k.cName]
            }
            let o = Self.outcome(bytes, doorbell: doorbell, scenario: scenario)
            guard case .fail(let m) = o else {
                Issue.record("iteration \(iteration) (\(corruption)): expected a failure, got \(o)")
                return
            }
            guard expect.allSatisfy({ m.contains($0) }) else {
                Issue.record("iteration \(iteration) (\(corruption)): the failure does not name \(expect): \(m)")
                return
            }
            counts["\(corruption)", default: 0] += 1
        }
        #expect(counts.values.reduce(0, +) == total)
        print(
            "mailbox fuzz: \(total) hostile messages, \(total) clean failures naming the field; by kind: \(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))"
        )
    }
}
