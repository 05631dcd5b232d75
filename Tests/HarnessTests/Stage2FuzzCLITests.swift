import Foundation
import Testing

/// The hostile-input figure: `harness stage2 fuzz` (10,000 mutated specs, 1,000 corrupted
/// images through the build/dump/walk code) must report 0 crashes, hangs, bytes on stdout
/// on failure and files left; and its hang check must be able to fire.
@Suite struct Stage2FuzzCLITests {
    @Test func tenThousandSpecsAndAThousandImagesLeaveNothingBehind() throws {
        let r = try Subprocess.run(["stage2", "fuzz", "--specs", "10000", "--images", "1000", "--json"], timeout: 600)
        #expect(r.status == 0 && !r.timedOut && !r.signaled, "\(r.status) \(r.stderr)")
        let figures = try #require((try? JSONSerialization.jsonObject(with: Data(r.stdout))) as? [String: Any], "\(r.stdoutText)")
        #expect(figures["specs"] as? Int == 10_000 && figures["images"] as? Int == 1_000)
        for key in ["crashes", "hangs", "bytesOnStdoutOnFailure", "filesLeft", "oversizedDumps"] {
            #expect(figures[key] as? Int == 0, "\(key): \(figures[key] ?? "missing")")
        }
        // The mutations reach past the reader: some specs build, some images dump and walk.
        #expect((figures["accepted"] as? Int ?? 0) > 100 && (figures["walks"] as? Int ?? 0) > 10_000)
    }

    @Test func theHangCheckFires() throws {
        let r = try Subprocess.run(["stage2", "fuzz", "--specs", "50", "--images", "0", "--hang-seconds", "0.000000001"])
        #expect(r.status == 1 && r.stdoutText.contains("FAILED") && r.stderr.contains("slowest spec"), "\(r.stdoutText) \(r.stderr)")
    }
}
