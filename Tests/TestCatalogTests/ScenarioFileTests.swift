import CatalogFiles
import Foundation
import GuestProtocol
import Stage2
import Testing

@testable import Runtime
@testable import TestCatalog

/// The scenario-file loader: errors name the file, the JSON path, the field and what was
/// expected; unknown keys are rejected at every level; the skeleton and the built-in files load.
@Suite struct ScenarioFileTests {
    /// A small valid file; `edit` changes its text before loading.
    static let valid = #"""
        {
          "format": 1,
          "name": "t",
          "summary": "s",
          "granule": "4k",
          "let": {"base": "1 << 39"},
          "memory": [{"name": "ro", "ipa": "base", "size": "page", "access": "r"},
                     {"name": "lazy", "ipa": "base + block", "size": "block", "unit": "page"}],
          "ops": [
            {"op": "store", "bytes": 8, "value": "0x1234", "at": "ro + 0x18",
             "raises": [{"fault": "permission", "level": 3, "host": [{"protect": {"region": "ro", "access": "rw"}}]}]},
            {"op": "load", "bytes": 8, "at": "ro + 0x18"},
            {"op": "load", "bytes": 4, "at": "lazy + 0x40",
             "raises": [{"fault": "translation", "level": "derive", "host": [{"demandMap": "lazy"}]}]}
          ],
          "variants": [{"name": "4k", "summary": "v"}]
        }
        """#

    static func load(_ text: String) throws(ScenarioFileError) -> CatalogTest {
        try ScenarioLoader.load(Array(text.utf8), file: "x.json")
    }

    /// Loads `valid` with `old` replaced by `new` and returns the error it must raise.
    static func error(_ old: String, _ new: String, sourceLocation: SourceLocation = #_sourceLocation) -> ScenarioFileError? {
        let text = valid.replacing(old, with: new)
        #expect(text != valid, "the edit '\(old)' applies", sourceLocation: sourceLocation)
        do {
            _ = try load(text)
            Issue.record("loaded without an error after '\(old)' → '\(new)'", sourceLocation: sourceLocation)
            return nil
        } catch { return error }
    }

    @Test func theValidFileLoadsAndDerivesWhatItDoesNotSay() throws {
        let t = try Self.load(Self.valid)
        #expect(t.name == "t" && t.variants.map(\.name) == ["4k"])
        #expect(t.variants[0].requirements == [.stage2Granule(.k4)])
        let s = try t.variants[0].scenario(HostFacts(vmIPABits: 40))
        let base: UInt64 = 1 << 39
        #expect(s.ops == [.store(8, 0x1234, at: base + 0x18), .load(8, at: base + 0x18), .load(4, at: base + 0x20_0000 + 0x40)])
        // The load after the store expects the stored value; the lazy load a planted one.
        #expect(s.expectedResults[0] == 0 && s.expectedResults[1] == 0x1234)
        #expect(s.expectedResults[2] == (0xA500_0000_0000_0000 | 2 << 40 | (base + 0x20_0000 + 0x40) & 0xFF_FFFF_FFFF) & 0xFFFF_FFFF)
        guard s.events.count == 2, case .stage2Fault(let p) = s.events[0].kind, case .stage2Fault(let t2) = s.events[1].kind else {
            Issue.record("events: \(s.events)")
            return
        }
        #expect(
            p.kind == .permission && p.level == 3 && !p.hpfarValid
                && p.access == .data(bytes: 8, write: true, register: 12, sixtyFourBit: true))
        // 4K, 40-bit IPA: start level 1; base's level-1 entry is valid (ro), the level-2
        // entry for base + 2 MiB is not: the walk stops at level 2 (Arm ARM D8.2).
        #expect(t2.kind == .translation && t2.level == 2 && t2.hpfarValid)
        #expect(s.backing.count == 1 && s.initialMappings.count == 1)
    }

    @Test func errorsNameTheFileThePathAndWhatWasExpected() {
        let cases: [(String, String, String, String)] = [
            // (old, new, path, part of the message)
            (#""level": 3"#, #""levle": 3"#, "$.ops[0].raises[0].levle", "unknown key 'levle'; expected one of: fault, hvc"),
            (#""bytes": 8, "value""#, #""bytes": "eight", "value""#, "$.ops[0].bytes", "expected an integer"),
            (#""name": "t","#, "", "$.name", "missing required key 'name'"),
            (#""ipa": "base + block""#, #""ipa": "bse + block""#, "$.memory[1].ipa", "unknown name 'bse'"),
            (#""granule": "4k""#, #""granule": "8k""#, "$.granule", "expected \"4k\", \"16k\" or \"64k\""),
            (#""level": 3"#, #""level": 5"#, "$.ops[0].raises[0].level", "expected a level 0 to 3, or \"derive\""),
            (#""op": "load", "bytes": 8"#, #""op": "lod", "bytes": 8"#, "$.ops[1].op", "op 'lod'; expected one of"),
            (#""access": "r"}"#, #""access": "wr"}"#, "$.memory[0].access", "access 'wr'"),
            (
                #""fault": "permission""#, #""fault": "permission", "hvc": 1"#, "$.ops[0].raises[0]",
                "has fault and hvc; give exactly one of"
            ),
            (#"{"demandMap": "lazy"}"#, #"{"demandMap": "lzy"}"#, "$.ops[2].raises[0].host[0].demandMap", "no region named 'lzy'"),
            (#""level": "derive""#, #""level": "derive", "address": "ro""#, "$.ops[2].raises[0].level", "is mapped at this point"),
            (#""format": 1"#, #""format": 2"#, "$.format", "format 2 is not one this harness reads; expected 1"),
            (
                #"[{"name": "4k", "summary": "v"}]"#, #"[{"name": "4k", "summary": "v"}, {"name": "4k", "summary": "w"}]"#,
                "$.variants[1].name", "a second variant named '4k'"
            ),
            (#""value": "0x1234""#, #""value": "0x1_0000_0000_0000_0000""#, "$.ops[0].value", "is not a number"),
            (#""value": "0x1234""#, #""value": "(1 << 63) * 2""#, "$.ops[0].value", "overflows 64 bits"),
            (#""format": 1,"#, #""format": 1, "bogus": true,"#, "$.bogus", "unknown key 'bogus'"),
            (#""summary": "v"}"#, #""summary": "v", "opz": []}"#, "$.variants[0].opz", "unknown key 'opz'"),
            (#""unit": "page"}"#, #""unit": "page", "acess": "r"}"#, "$.memory[1].acess", "unknown key 'acess'"),
            (#""at": "ro + 0x18"}"#, #""at": "ro + 0x18", "rezult": 1}"#, "$.ops[1].rezult", "unknown key 'rezult'"),
            (
                #"{"protect": {"region": "ro", "access": "rw"}}"#, #"{"protect": {"region": "ro", "acces": "rw"}}"#,
                "$.ops[0].raises[0].host[0].protect.acces", "unknown key 'acces'"
            ),
            (#"{"demandMap": "lazy"}"#, #"{"demandMap": "lazy", "map": "ro"}"#, "$.ops[2].raises[0].host[0]", "has demandMap and map"),
        ]
        for (old, new, path, message) in cases {
            guard let e = Self.error(old, new) else { continue }
            #expect(e.file == "x.json", "\(old) → \(new)")
            #expect(e.path == path, "\(old) → \(new): \(e)")
            #expect(e.message.contains(message), "\(old) → \(new): \(e)")
            #expect(e.description.hasPrefix("x.json: \(path): "))
        }
    }

    /// `harness check`: a host that cannot make the VM a variant needs leaves that variant "not
    /// checked" with the reason, not silently passed and not an error; the hosts it checks for
    /// (a 52-bit VM) build it.
    @Test func checkSaysWhatOnlyTheHostDecides() {
        let text = Self.valid.replacing(#""granule": "4k","#, with: #""granule": "4k", "ipaBits": 48,"#)
        let small = ScenarioLoader.check(Array(text.utf8), file: "x.json", hosts: [HostFacts(vmIPABits: 40)])
        #expect(small.errors.isEmpty && small.test != nil, "\(small.errors)")
        #expect(
            small.notChecked == [
                "x.json: $.variants[0]: variant '4k': not checked: KVM_CAP_ARM_VM_IPA_SIZE is 40 bits; a 48-bit nested IPA space needs a VM that large"
            ], "\(small.notChecked)")
        let all = ScenarioLoader.check(Array(text.utf8), file: "x.json")
        #expect(all.errors.isEmpty && all.notChecked.isEmpty, "\(all.errors) \(all.notChecked)")
    }

    @Test func commentKeysAreAllowedAnywhere() throws {
        let text = Self.valid.replacing(#""format": 1,"#, with: #""//": "a comment", "format": 1,"#)
            .replacing(#""at": "ro + 0x18"}"#, with: #""at": "ro + 0x18", "// why": "reads back the store"}"#)
        _ = try Self.load(text)
    }

    @Test func expressions() throws {
        let names: [String: UInt64] = ["page": 0x1000, "base": 1 << 39]
        func v(_ s: String) throws -> UInt64 { try Expression(s).evaluate(names) }
        #expect(try v("base + 2*page + 0x30") == (1 << 39) + 0x2030)
        #expect(try v("1 << 4 + 1") == 17)  // << binds like *, tighter than +
        #expect(try v("(1 + 1) << 4") == 32)
        #expect(try v("0b1010 + 0x1_0 + 1_000") == 1026)
        #expect(try v("page / 2 - 1") == 0x7FF)
        #expect(throws: ExpressionError.self) { try v("1 - 2") }
        #expect(throws: ExpressionError.self) { try v("1 << 64") }
        #expect(throws: ExpressionError.self) { try v("page +") }
        #expect(throws: ExpressionError.self) { try v("page / 0") }
        #expect(throws: ExpressionError.self) { try v("nope") }
    }

    @Test func theSkeletonLoadsAndCanRun() throws {
        let t = try ScenarioLoader.load(Array(ScenarioTemplate.skeleton(name: "my-test").utf8), file: "my-test.json")
        #expect(t.name == "my-test")
        let s = try t.variants[0].scenario(HostFacts(vmIPABits: 40))
        #expect(s.events.count == 1 && s.ops.count == 4)
    }

    /// The embedded catalog is byte for byte the files in catalog/, and every one loads.
    @Test func theEmbeddedCatalogEqualsTheFilesOnDisk() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("catalog")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(EmbeddedCatalog.files.map(\.name) == names)
        for f in EmbeddedCatalog.files {
            let disk = try String(contentsOf: folder.appendingPathComponent(f.name), encoding: .utf8)
            // The raw string literal drops the file's final newline (it ends the literal's line).
            #expect(f.text == disk || f.text + "\n" == disk, "\(f.name) differs from catalog/\(f.name)")
            let t = try ScenarioLoader.load(Array(f.text.utf8), file: f.name)
            #expect(t.name + ".json" == f.name, "a built-in file is named after its test")
        }
        #expect(Catalog.builtInFiles.count == names.count)
    }

    /// A syntax error is reported with its line and column. JSONDecoder alone cannot: its
    /// error names no place (this is why the loader keeps a small syntax scanner).
    @Test func syntaxErrorsNameTheLineAndColumn() throws {
        let text = Self.valid.replacing(#""summary": "s","#, with: #""summary": "s""#)  // a missing comma, line 4
        do {
            _ = try JSONDecoder().decode(ScenarioFile.self, from: Data(text.utf8))
            Issue.record("decoded")
        } catch let DecodingError.dataCorrupted(ctx) {
            #expect(
                ctx.codingPath.isEmpty && !ctx.debugDescription.contains("line") && ctx.underlyingError == nil,
                "JSONDecoder now says where: \(ctx) (the scanner may be unnecessary)")
        }
        do {
            _ = try Self.load(text)
            Issue.record("loaded")
        } catch {
            #expect(error.path == "line 5, column 3", "\(error)")
            #expect(error.message == "not valid JSON: expected ',' or '}' after a value in an object", "\(error)")
        }
        let cases: [(String, Int, Int, String)] = [
            ("{\"a\": [1, 2,]}", 1, 13, "a value"),
            ("{\"a\": tru}", 1, 10, "'true'"),
            ("{\"a\": \"x\n\"}", 1, 9, "no control character"),
            ("{\"a\": 1}\n}", 2, 1, "the end of the file"),
            ("{\n  a: 1}", 2, 3, "a key in double quotes"),
            ("[\"é\", 01]", 1, 8, "',' or ']'"),
        ]
        for (json, line, column, expected) in cases {
            let e = try #require(JSONSyntaxLocator.firstError(in: Array(json.utf8)), "\(json)")
            #expect(e.line == line && e.column == column && e.expected.contains(expected), "\(json): \(e)")
        }
        #expect(JSONSyntaxLocator.firstError(in: Array(Self.valid.utf8)) == nil)
        for f in EmbeddedCatalog.files { #expect(JSONSyntaxLocator.firstError(in: Array(f.text.utf8)) == nil, "\(f.name)") }
    }

    /// Tags, budgets and known-failure records are fields of the file.
    @Test func tagsBudgetsAndKnownFailures() throws {
        let text = Self.valid.replacing(
            #""variants": [{"name": "4k", "summary": "v"}]"#,
            with: #"""
                "tags": ["stage2-faults"], "budget": 45,
                "variants": [{"name": "4k", "summary": "v", "tags": ["smoke"], "budget": 5,
                  "knownFailures": [{"signature": {"ioctl": {"operation": "KVM_RUN", "errno": "EFAULT"}}, "reason": "r", "reference": "ref",
                                     "kernels": {"introduced": "6.16", "fixedIn": "7.5.1", "fixedBy": "abc"}}]},
                  {"name": "64k", "summary": "w", "granule": "64k",
                   "knownFailures": [{"signature": {"check": "op 1 produced 0x1, expected 0x2"}, "reason": "r2", "reference": "ref2"}]}]
                """#)
        let t = try Self.load(text)
        #expect(t.tags == ["stage2-faults"])
        #expect(t.variants[0].tags == ["smoke"] && t.variants[0].budget.seconds == 5 && t.variants[1].budget.seconds == 45)
        #expect(
            t.variants[0].knownFailures == [
                KnownFailure(
                    signature: .ioctl(operation: "KVM_RUN", errno: "EFAULT"), reason: "r", reference: "ref",
                    kernels: KernelRange(introduced: KernelVersion(6, 16), fixedIn: KernelVersion(7, 5, 1), fixedBy: "abc"))
            ])
        #expect(
            t.variants[1].knownFailures == [
                KnownFailure(signature: .check("op 1 produced 0x1, expected 0x2"), reason: "r2", reference: "ref2", kernels: KernelRange())
            ])
        // The built-in records are where the findings are (illegal-vtcr: every variant).
        let vs0 = try #require(Catalog.test(named: "vmid-isolation")?.variants.first { $0.name == "vs0-alias" })
        #expect(vs0.knownFailures.count == 1 && vs0.knownFailures[0].kernels.introduced == KernelVersion(6, 16))
        #expect(Catalog.test(named: "illegal-vtcr")?.variants.allSatisfy { $0.knownFailures.count == 1 } == true)
        #expect(Catalog.test(named: "illegal-vtcr")?.tags.contains(.unsafe) == true)
        for (old, new, path, message) in [
            (
                #""errno": "EFAULT""#, #""errno": "EFAULT", "errnum": 14"#, "$.variants[0].knownFailures[0].signature.ioctl.errnum",
                "unknown key 'errnum'"
            ),
            (#""fixedIn": "7.5.1""#, #""fixedIn": "seven""#, "$.variants[0].knownFailures[0].kernels.fixedIn", "not a kernel version"),
            (#""tags": ["smoke"]"#, #""tags": ["Smoke Test"]"#, "$.variants[0].tags", "not a tag name"),
            (
                #"{"check": "op 1 produced 0x1, expected 0x2"}"#, #"{}"#, "$.variants[1].knownFailures[0].signature",
                "needs one of the keys: check, ioctl"
            ),
        ] {
            do {
                _ = try Self.load(text.replacing(old, with: new))
                Issue.record("loaded after \(old) → \(new)")
            } catch {
                #expect(error.path == path && error.message.contains(message), "\(error)")
            }
        }
    }
}
