import Foundation
import Testing

@testable import Reporting

@Suite struct JSONLinesTests {
    static let text = {
        var f = JSONLinesFormatter()
        return f.render(Fixture.run, results: Fixture.results)
    }()

    static func objects(_ text: String) throws -> [[String: Any]] {
        #expect(text.hasSuffix("\n"))
        return try text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [])
            return try #require(o as? [String: Any], "not an object: \(line)")
        }
    }

    @Test func oneObjectPerLine() throws {
        let objs = try Self.objects(Self.text)
        #expect(objs.count == 7)
        #expect(objs.map { $0["type"] as? String } == ["run", "test", "test", "test", "test", "test", "summary"])
    }

    @Test func runRecord() throws {
        let run = try Self.objects(Self.text)[0]
        #expect(run["seed"] as? String == "18446744073709551557")
        #expect(run["startTime"] as? String == "2026-11-26T02:21:54Z")
        #expect(run["hostname"] as? String == "ci-host")
        #expect(run["host"] as? String == "Linux 6.16.0 aarch64")
        #expect(run["planned"] as? Int == 5)
    }

    @Test func testRecordsFieldByField() throws {
        let tests = try Self.objects(Self.text).filter { $0["type"] as? String == "test" }
        #expect(
            tests.map { $0["name"] as? String } == [
                "demand-paging/4k", "permission/write-ro", "demand-paging/16k", "bbm/live", "demand-paging/4k",
            ])
        #expect(
            tests.map { $0["id"] as? String } == [
                "demand-paging_4k", "permission_write-ro", "demand-paging_16k", "bbm_live", "demand-paging_4k-rep2",
            ])
        #expect(tests.map { $0["number"] as? Int } == [1, 2, 3, 4, 5])
        #expect(tests.map { $0["status"] as? String } == ["pass", "fail", "skip", "timeout", "pass"])
        #expect(tests.map { ($0["duration"] as? NSNumber)?.doubleValue } == [0.85, 0.12, 0, 10, 0.0012])
        #expect(tests[0]["parameters"] as? [String: String] == ["granule": "4K", "ipaBits": "40"])
        #expect(tests[0]["faults"] as? [String] == [Fixture.fault1])
        #expect(tests[0]["message"] is NSNull)
        #expect(tests[0]["repetition"] is NSNull)
        #expect(tests[4]["repetition"] as? Int == 2)
        // JSON can carry any string: the untrusted message comes back exactly, NUL and all.
        #expect(tests[1]["message"] as? String == "expected WnR=1, got 0; " + Fixture.nasty)
        #expect(tests[1]["faults"] as? [String] == [Fixture.fault2, "raw " + Fixture.nasty])
        #expect(tests[2]["message"] as? String == "ID_AA64MMFR0_EL1.TGran16_2 = 0b0001: 16K granule not supported at stage 2")
        #expect(tests[3]["message"] as? String == "watchdog: no exit for 10 s")
        #expect(tests[3]["log"] as? [String] == ["MMIO write 0x9000000 len 4 data 0x41", "KVM_EXIT_INTR"])
    }

    @Test func summaryRecord() throws {
        let s = try #require(try Self.objects(Self.text).last)
        #expect(s["passed"] as? Int == 2)
        #expect(s["failed"] as? Int == 2)
        #expect(s["skipped"] as? Int == 1)
        #expect(s["timedOut"] as? Int == 1)
        #expect(s["total"] as? Int == 5)
        #expect(s["exitStatus"] as? Int == 124)
    }

    @Test func lineSeparatorsAndControlsAreEscaped() throws {
        let nasty = "a\u{2028}b\u{2029}c\u{7F}d\u{0}\u{1F}\"\\/"
        var f = JSONLinesFormatter()
        let line = f.result(TestResult(name: nasty, outcome: .failed(nasty)), number: 1)
        #expect(line.filter { $0 == "\n" }.count == 1 && line.hasSuffix("\n"))
        #expect(line.contains(#""name":"a\u2028b\u2029c\u007fd\u0000\u001f\"\\/""#))
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(o["name"] as? String == nasty)
        #expect(o["message"] as? String == nasty)
    }
}
