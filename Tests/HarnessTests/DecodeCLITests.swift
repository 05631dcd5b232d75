import Foundation
import Testing

/// `harness decode` as a user runs it. Expected text is the Arm ARM decoding of the values
/// (see Tests/AArch64Tests for the field-by-field derivation).
@Suite struct DecodeCLITests {
    @Test func decodesAStage2FaultWithTheSummaryLine() throws {
        let r = try RunCLITests.run(["decode", "--esr", "0x93cb8007", "--far", "0x50000000", "--hpfar", "0x8000000000500000"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("DFSC  0x07  (translation fault, level 3)"))
        #expect(
            r.stdout.contains(
                "summary: stage-2 fault: translation L3, read (64-bit into x11), IPA 0x50000000 (HPFAR 0x8000000000500000) FAR 0x50000000 ESR 0x93cb8007 [DABT_LOW IL ISV SAS=3 SRT=11 SF DFSC=0x07]"
            ))
    }

    @Test func jsonIsOneObject() throws {
        let r = try RunCLITests.run(["decode", "--esr", "0x5a000001", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(obj["ecName"] as? String == "HVC64")
        #expect(obj["immediate"] as? String == "0x1")
        #expect(obj["farValid"] as? Bool == false)
    }

    @Test(arguments: [
        (["decode", "--esr", "zz"], "--esr: 'zz' is not a 64-bit number"),
        (["decode", "--esr", "1", "--hpfar", "0x1_0000_0000_0000_0000"], "--hpfar"),
        (["decode"], "--esr"),
    ])
    func badNumbersAreRefusedByName(arguments: [String], message: String) throws {
        let r = try RunCLITests.run(arguments)
        #expect(r.status != 0)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }
}
