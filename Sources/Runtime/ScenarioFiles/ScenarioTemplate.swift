/// The skeleton `harness new NAME` writes: a small complete test (one page mapped up front,
/// one demand-mapped page) with a "//" comment beside each part. It passes `harness check`
/// and, on a host that can run nested tests, `harness run`.
public enum ScenarioTemplate {
    public static func skeleton(name: String) -> String {
        #"""
        {
          "//": "A scenario file: see docs/writing-tests.md. Keys starting with // are comments.",
          "format": 1,
          "name": "\#(name)",
          "summary": "one line: what this test checks",
          "tags": ["mine"],
          "reference": "Arm ARM section or pseudocode function the expectations come from",
          "why": "a sentence on why the expected events are what they are",

          "// geometry": "granule 4k/16k/64k and IPA size; a variant may set its own",
          "granule": "4k",
          "ipaBits": 40,

          "// let": "names for the expressions below; page, block, span0..span3, ipaLimit, hvcReturn are built in",
          "let": {"base": "1 << 39"},

          "// memory": "regions of the nested guest's IPA space: mapped before the run, or backed page by page on demand ('unit')",
          "memory": [
            {"name": "data", "ipa": "base", "size": "page", "access": "rw"},
            {"name": "lazy", "ipa": "base + block", "size": "block", "unit": "page"}
          ],

          "// ops": "what the nested guest does, in order; 'raises' lists the events an op must cause and the host's answer",
          "ops": [
            {"op": "store", "bytes": 8, "value": "0x1234_5678", "at": "data + 0x10"},
            {"op": "load", "bytes": 8, "at": "data + 0x10"},
            {"op": "load", "bytes": 4, "at": "lazy + 0x20",
             "raises": [{"fault": "translation", "level": "derive", "host": [{"demandMap": "lazy"}]}]},
            {"op": "load", "bytes": 4, "at": "lazy + 0x24"}
          ],

          "variants": [
            {"name": "4k", "summary": "4K granule, 40-bit IPA"}
          ]
        }

        """#
    }
}
