import Testing

@testable import Reporting

@Suite struct StableIDTests {
    @Test(arguments: [
        ("demand-paging/4k", "demand-paging_4k"),
        ("translation-levels/64k-52bit", "translation-levels_64k-52bit"),
        ("a b/c.d", "a_b_c_d"),
        ("é#[x]", "___x_"),  // one `_` per character (é is one code point here)
        ("", "_"),
        ("ok_Z-9", "ok_Z-9"),
    ])
    func replacesEverythingOutsideTheLabCharacterSet(_ name: String, _ id: String) {
        #expect(StableID.make(name) == id)
        #expect(StableID.isValid(StableID.make(name)))
    }

    @Test func repetitionSuffix() {
        #expect(StableID.make("demand-paging/4k", repetition: 2) == "demand-paging_4k-rep2")
        #expect(StableID.make("demand-paging/4k", repetition: nil) == "demand-paging_4k")
        #expect(TestResult(name: "bbm/live", outcome: .passed, repetition: 3).id == "bbm_live-rep3")
    }

    @Test func validity() {
        #expect(StableID.isValid("demand-paging_4k"))
        #expect(!StableID.isValid("demand-paging/4k"))
        #expect(!StableID.isValid(""))
        #expect(!StableID.isValid("a b"))
    }
}
