import Foundation
import Testing

@testable import Reporting

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The JUnit output is parsed with a real XML parser (Foundation's XMLDocument, libxml2 on
/// Linux) and checked field by field against values worked out by hand from the fixture.
///
/// XSD validation: no Debian package ships an XML schema for the legacy JUnit/Ant report
/// format. Checked 2026-11-26 in Debian 12: libsurefire-java 2.22.3 (no .xsd in any jar),
/// python3-junitparser, python3-junit.xml, libtap-formatter-junit-perl (no schema files);
/// junit5 5.9.2 ships only `org/junit/platform/reporting/open/xml/junit.xsd`, the schema of
/// the different "Open Test Reporting" format. So the structure is checked here instead.
@Suite struct JUnitTests {
    static let xml = {
        var f = JUnitFormatter()
        return f.render(Fixture.run, results: Fixture.results)
    }()

    static func parse(_ text: String) throws -> XMLDocument {
        try XMLDocument(xmlString: text, options: [])
    }

    static func attr(_ e: XMLElement, _ name: String) -> String? { e.attribute(forName: name)?.stringValue }

    /// What any untrusted text must look like after a round trip: every code point XML 1.0
    /// allows is kept (including tab, newline and CR), every other one is shown as `\xNN`
    /// (up to U+00FF) or `\uNNNN`. Written from XML 1.0 §2.2, independently of `Escape`.
    static func visible(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            let v = u.value
            let allowed =
                v == 9 || v == 10 || v == 13 || (0x20...0xD7FF).contains(v)
                || (0xE000...0xFFFD).contains(v) || (0x10000...0x10FFFF).contains(v)
            if allowed {
                out.unicodeScalars.append(u)
            } else if v <= 0xFF {
                out += String(format: "\\x%02X", v)
            } else {
                out += String(format: "\\u%04X", v)
            }
        }
        return out
    }

    @Test func rootAndSuiteCounts() throws {
        let doc = try Self.parse(Self.xml)
        let root = try #require(doc.rootElement())
        #expect(root.name == "testsuites")
        let suites = root.elements(forName: "testsuite")
        #expect(suites.count == 1)
        let suite = try #require(suites.first)
        for e in [root, suite] {
            // 5 results: 2 pass, 1 fail + 1 timeout (failures), 1 skip.
            #expect(Self.attr(e, "tests") == "5")
            #expect(Self.attr(e, "failures") == "2")
            #expect(Self.attr(e, "errors") == "0")
            #expect(Self.attr(e, "skipped") == "1")
            // 0.850 + 0.120 + 10 + 0.0012 = 10.9712 s.
            #expect(Self.attr(e, "time") == "10.971")
            #expect(Self.attr(e, "timestamp") == "2026-11-26T02:21:54")
            #expect(Self.attr(e, "name") == "nvharness")
        }
        #expect(Self.attr(suite, "hostname") == "ci-host")
        let props = try #require(suite.elements(forName: "properties").first).elements(forName: "property")
        #expect(props.map { Self.attr($0, "name") } == ["seed", "host"])
        #expect(Self.attr(props[0], "value") == "18446744073709551557")
        #expect(Self.attr(props[1], "value") == "Linux 6.16.0 aarch64")
    }

    @Test func testcasesFieldByField() throws {
        let doc = try Self.parse(Self.xml)
        let suite = try #require(doc.rootElement()?.elements(forName: "testsuite").first)
        let cases = suite.elements(forName: "testcase")
        #expect(cases.count == 5)
        #expect(
            cases.map { Self.attr($0, "name") } == [
                "demand-paging_4k", "permission_write-ro", "demand-paging_16k", "bbm_live", "demand-paging_4k-rep2",
            ])
        #expect(
            cases.map { Self.attr($0, "classname") } == [
                "nvharness.demand-paging", "nvharness.permission", "nvharness.demand-paging", "nvharness.bbm", "nvharness.demand-paging",
            ])
        #expect(cases.map { Self.attr($0, "time") } == ["0.850", "0.120", "0.000", "10.000", "0.001"])

        // 1: pass with a fault log -> no failure/skipped, fault in system-out.
        #expect(cases[0].elements(forName: "failure").isEmpty && cases[0].elements(forName: "skipped").isEmpty)
        #expect(
            cases[0].elements(forName: "system-out").first?.stringValue
                == "parameters: granule=4K ipaBits=40\nfaults:\n\(Fixture.fault1)\n")

        // 2: failure with untrusted text in message and body.
        let failure = try #require(cases[1].elements(forName: "failure").first)
        let message = "expected WnR=1, got 0; " + Fixture.nasty
        #expect(Self.attr(failure, "type") == "failure")
        #expect(Self.attr(failure, "message") == Self.visible(message))
        // Spelled out once by hand, so the test does not only trust `visible`:
        #expect(
            Self.attr(failure, "message")
                == "expected WnR=1, got 0; guest said <b>&\"quoted\" 'x'</b> \\x00\\x1B[31mred\\x0B \\uFFFE # SKIP not really \\ end\nsecond line é\r\tcr-tab"
        )
        #expect(failure.stringValue == Self.visible(message + "\n\nfaults:\n" + Fixture.fault2 + "\nraw " + Fixture.nasty))
        #expect(
            cases[1].elements(forName: "system-out").first?.stringValue
                == Self.visible("faults:\n\(Fixture.fault2)\nraw \(Fixture.nasty)\n"))

        // 3: skipped with its reason; nothing else.
        let skipped = try #require(cases[2].elements(forName: "skipped").first)
        #expect(Self.attr(skipped, "message") == "ID_AA64MMFR0_EL1.TGran16_2 = 0b0001: 16K granule not supported at stage 2")
        #expect(cases[2].elements(forName: "failure").isEmpty)

        // 4: timeout is a failure of type "timeout" whose body carries the last exits.
        let timeout = try #require(cases[3].elements(forName: "failure").first)
        #expect(Self.attr(timeout, "type") == "timeout")
        #expect(Self.attr(timeout, "message") == "timed out: watchdog: no exit for 10 s")
        #expect(
            timeout.stringValue
                == "timed out: watchdog: no exit for 10 s\n\nlast exits:\nMMIO write 0x9000000 len 4 data 0x41\nKVM_EXIT_INTR")

        // 5: a plain pass is an empty element.
        #expect(cases[4].childCount == 0)
    }

    @Test func rawTextIsEscapedAndHasNoForbiddenCharacters() {
        let x = Self.xml
        #expect(x.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "))
        #expect(x.contains("guest said &lt;b&gt;&amp;&quot;quoted&quot; &apos;x&apos;&lt;/b&gt;"))  // attribute
        #expect(x.contains("guest said &lt;b&gt;&amp;\"quoted\" 'x'&lt;/b&gt;"))  // element text
        for u in x.unicodeScalars {
            #expect(u.value >= 0x20 || u.value == 0x0A || u.value == 0x09, "raw U+\(String(u.value, radix: 16)) in the XML")
            #expect(u.value != 0xFFFE && u.value != 0xFFFF)
        }
    }

    @Test func escapeFunctions() {
        #expect(Escape.xmlAttribute("<&>\"'") == "&lt;&amp;&gt;&quot;&apos;")
        #expect(Escape.xmlText("<&>\"'") == "&lt;&amp;&gt;\"'")
        #expect(Escape.xmlText("]]>") == "]]&gt;")
        #expect(Escape.xmlText("a\u{0}b\u{1F}c\u{7F}d") == "a\\x00b\\x1Fc\u{7F}d")  // DEL is allowed in XML 1.0
        #expect(Escape.xmlAttribute("a\tb\nc\rd") == "a&#9;b&#10;c&#13;d")
        #expect(Escape.xmlText("\u{FFFF}\u{FFFD}\u{10FFFF}") == "\\uFFFF\u{FFFD}\u{10FFFF}")
    }

    /// Random strings over all of Unicode (seeded, so a failure reproduces) always give a
    /// well-formed document whose attributes and text read back as `visible(input)`.
    @Test func randomUntrustedTextRoundTrips() throws {
        var rng = Xoshiro256StarStar(seed: 2026)
        for _ in 0..<150 {
            var s = ""
            for _ in 0..<Int(rng.next(below: 40)) {
                let pick = rng.next(below: 4)
                let v: UInt32 =
                    switch pick {
                    case 0: UInt32(rng.next(below: 0x80))  // ASCII incl. controls
                    case 1: [0x26, 0x3C, 0x3E, 0x22, 0x27, 0x5D, 0xFFFE, 0xFFFF, 0x0D][Int(rng.next(below: 9))]
                    case 2: UInt32(rng.next(below: 0xD800))
                    default: 0xE000 + UInt32(rng.next(below: 0x10FFFF - 0xE000 + 1))
                    }
                s.unicodeScalars.append(Unicode.Scalar(v)!)
            }
            let results = [
                TestResult(name: s, outcome: .failed(s), faults: [s]),
                TestResult(name: "x", outcome: .skipped(reason: s)),
            ]
            let run = RunInfo(startTime: Fixture.start, hostname: s, hostDescription: s, seed: 1)
            var f = JUnitFormatter()
            let doc = try Self.parse(f.render(run, results: results))
            let suite = try #require(doc.rootElement()?.elements(forName: "testsuite").first)
            #expect(Self.attr(suite, "hostname") == Self.visible(s))
            let tc = suite.elements(forName: "testcase")
            // The test name is its stable id: one allowed character per character of the name.
            let id = try #require(Self.attr(tc[0], "name"))
            #expect(id.wholeMatch(of: /[A-Za-z0-9_-]+/) != nil, "\(id)")
            #expect(id.unicodeScalars.count == max(1, s.unicodeScalars.count))
            #expect(Self.attr(tc[0].elements(forName: "failure")[0], "message") == Self.visible(s))
            #expect(tc[0].elements(forName: "failure")[0].stringValue == Self.visible(s + "\n\nfaults:\n" + s))
            #expect(Self.attr(tc[1].elements(forName: "skipped")[0], "message") == Self.visible(s))
        }
    }

    @Test func emptyRunIsStillAValidReport() throws {
        var f = JUnitFormatter()
        let doc = try Self.parse(f.render(Fixture.run, results: []))
        let suite = try #require(doc.rootElement()?.elements(forName: "testsuite").first)
        #expect(Self.attr(suite, "tests") == "0")
        #expect(suite.elements(forName: "testcase").isEmpty)
    }
}
