import Foundation
import Testing

/// `harness stage2 build|dump|walk` run as a subprocess, as a user would.
struct Stage2CLITests {
    typealias Run = RunCLITests.Run

    /// Runs the built `harness` (the runner tests' launcher: output to files, so neither
    /// pipe can fill up while the other is being read).
    static func run(_ arguments: [String]) throws -> Run { try RunCLITests.run(arguments) }

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("stage2cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    static func le64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    static let validSpec = """
        { "granule": "4k", "ipaBits": 40, "vmid": 1, "tableBase": "0x40000000", "tableBytes": "0x10000", "blocks": true,
          "ops": [
            {"op": "map", "ipa": "0x0", "pa": "0x80000000", "size": "0x200000", "perm": "rwx", "memory": "normal"},
            {"op": "unmap", "ipa": "0x1000", "size": "0x1000"},
            {"op": "protect", "ipa": "0x0", "size": "0x1000", "perm": "r"} ] }
        """

    @Test func buildWritesTheArchitecturalBytes() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("spec.json")
        let image = dir.appendingPathComponent("out.bin")
        try Self.validSpec.write(to: spec, atomically: true, encoding: .utf8)
        let r = try Self.run(["stage2", "build", spec.path, "--image", image.path])
        #expect(r.status == 0, "\(r.stderr)")
        // VTCR_EL2 (Arm ARM VTCR_EL2): T0SZ 24 (0x18) | SL0 0b01 level 1 (0x40) | IRGN0/ORGN0 WB,
        // SH0 inner (0x3500) | PS 0b000 (outputs < 4 GiB: 32 bits) | RES1 bit 31.
        // VTTBR_EL2: VMID 1 << 48 | BADDR 0x40000000 (the 8K root at the pool base).
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: String]
        #expect(object == ["vtcr": "0x80003558", "vttbr": "0x1000040000000", "tableBase": "0x40000000", "tableBytes": "0x10000"])
        let bytes = Array(try Data(contentsOf: image))
        #expect(bytes.count == 0x10000)
        // Root (level 1, pool pages 0–1): entry 0 → the level-2 table allocated next (page 2),
        // table descriptor = address | 0b11.
        #expect(Self.le64(bytes, 0x0000) == 0x4000_2003)
        // Level-2 entry 0: the 2 MiB block was split when 0x1000 was unmapped → table at page 3.
        #expect(Self.le64(bytes, 0x2000) == 0x4000_3003)
        // Level-3 pages: PA | AF 0x400 | SH 0b11<<8 | S2AP | MemAttr 0b1111<<2 (0x3C) | 0b11.
        // Page 0 after protect "r": S2AP 0b01 (0x40), XN 0b10 (bit 54): 0x0040_0000_8000_077F.
        #expect(Self.le64(bytes, 0x3000) == 0x0040_0000_8000_077F)
        // Page 1 unmapped.
        #expect(Self.le64(bytes, 0x3008) == 0)
        // Pages 2…511: rwx (S2AP 0b11 = 0xC0, XN 0b00): PA | 0x7FF.
        #expect(Self.le64(bytes, 0x3010) == 0x8000_27FF)
        #expect(Self.le64(bytes, 0x3FF8) == 0x801F_F7FF)
        // Nothing else is set anywhere in the pool.
        var nonZero = 0
        for o in stride(from: 0, to: bytes.count, by: 8) where Self.le64(bytes, o) != 0 { nonZero += 1 }
        #expect(nonZero == 1 + 1 + 511)

        // The same image walked and dumped by the tools.
        let common = ["--image", image.path, "--table-base", "0x40000000", "--vtcr", "0x80003558", "--vttbr", "0x1000040000000"]
        let w = try Self.run(["stage2", "walk"] + common + ["--json", "--access", "w", "0x0", "0x1000", "0x2abc", "0x200000"])
        #expect(w.status == 0)
        let walks = try JSONSerialization.jsonObject(with: Data(w.stdout.utf8)) as? [[String: Any]]
        #expect(walks?.count == 4)
        #expect(walks?[0]["fault"] as? String == "permission" && walks?[0]["level"] as? Int == 3 && walks?[0]["fsc"] as? String == "0xf")
        #expect(walks?[1]["fault"] as? String == "translation" && walks?[1]["fsc"] as? String == "0x7")
        #expect(walks?[2]["pa"] as? String == "0x80002abc" && walks?[2]["perm"] as? String == "rwx")
        #expect(walks?[3]["fault"] as? String == "translation" && walks?[3]["level"] as? Int == 2)
        let d = try Self.run(["stage2", "dump"] + common)
        #expect(d.status == 0)
        #expect(d.stdout.contains("L3[2..511] IPA 0x2000-0x1fffff → PA 0x80002000-0x801fffff 510 × 4K pages rwx"))
        let dj = try Self.run(["stage2", "dump", "--json"] + common)
        let dump = try JSONSerialization.jsonObject(with: Data(dj.stdout.utf8)) as? [String: Any]
        #expect((dump?["entries"] as? [Any])?.count == 4)
    }

    /// (name, spec, the field the message must name)
    static let invalid: [(String, String, String)] = {
        func spec(
            top: String = "", granule: String = "\"4k\"", ipaBits: String = "40", base: String = "\"0x40000000\"",
            bytes: String = "\"0x10000\"", op: String = #"{"op": "map", "ipa": "0x0", "pa": "0x80000000", "size": "0x1000", "perm": "rw"}"#
        ) -> String {
            #"{"granule": \#(granule), "ipaBits": \#(ipaBits), "vmid": 1, "tableBase": \#(base), "tableBytes": \#(bytes)\#(top), "ops": [\#(op)]}"#
        }
        func op(_ body: String) -> String { spec(op: body) }
        return [
            ("unaligned size", op(#"{"op": "map", "ipa": "0x0", "pa": "0x80000000", "size": "0x1800", "perm": "rw"}"#), "ops[0].size"),
            ("zero size", op(#"{"op": "unmap", "ipa": "0x0", "size": "0x0"}"#), "ops[0].size"),
            ("unaligned ipa", op(#"{"op": "unmap", "ipa": "0x800", "size": "0x1000"}"#), "ops[0].ipa"),
            ("unaligned pa", op(#"{"op": "map", "ipa": "0x0", "pa": "0x80000800", "size": "0x1000", "perm": "rw"}"#), "ops[0].pa"),
            ("IPA beyond ipaBits", op(#"{"op": "map", "ipa": "0x10000000000", "pa": "0x0", "size": "0x1000", "perm": "r"}"#), "ops[0].ipa"),
            ("IPA range crossing ipaBits", op(#"{"op": "unmap", "ipa": "0xfffffff000", "size": "0x2000"}"#), "ops[0].ipa"),
            ("PA beyond 48 bits", op(#"{"op": "map", "ipa": "0x0", "pa": "0x1000000000000", "size": "0x1000", "perm": "r"}"#), "ops[0].pa"),
            ("unknown top-level key", spec(top: #", "colour": "blue""#), "colour"),
            ("unknown op key", op(#"{"op": "unmap", "ipa": "0x0", "size": "0x1000", "perm": "r"}"#), "ops[0].perm"),
            ("unknown op", op(#"{"op": "remap", "ipa": "0x0", "size": "0x1000"}"#), "ops[0].op"),
            ("bad permission letter", op(#"{"op": "map", "ipa": "0x0", "pa": "0x0", "size": "0x1000", "perm": "rwq"}"#), "ops[0].perm"),
            ("repeated permission letter", op(#"{"op": "protect", "ipa": "0x0", "size": "0x1000", "perm": "rr"}"#), "ops[0].perm"),
            (
                "bad memory", op(#"{"op": "map", "ipa": "0x0", "pa": "0x0", "size": "0x1000", "perm": "r", "memory": "cached"}"#),
                "ops[0].memory"
            ),
            ("bad granule", spec(granule: "\"8k\""), "granule"),
            (
                "vmid > 255",
                #"{"granule": "4k", "ipaBits": 40, "vmid": 256, "tableBase": "0x40000000", "tableBytes": "0x10000", "ops": []}"#, "vmid"
            ),
            ("ipaBits 31", spec(ipaBits: "31"), "ipaBits"),
            ("ipaBits 49", spec(ipaBits: "49"), "ipaBits"),
            ("ipaBits not an integer", spec(ipaBits: "40.5"), "ipaBits"),
            ("unaligned tableBase", spec(base: "\"0x40000800\""), "tableBase"),
            ("zero tableBytes", spec(bytes: "\"0x0\""), "tableBytes"),
            ("unaligned tableBytes", spec(bytes: "\"0x1800\""), "tableBytes"),
            ("pool too small for the root", spec(bytes: "\"0x1000\""), "tableBytes"),
            ("pool too small for the ops", spec(bytes: "\"0x3000\""), "tableBytes"),
            ("blocks not a boolean", spec(top: #", "blocks": "yes""#), "blocks"),
            ("hex without 0x", op(#"{"op": "unmap", "ipa": "1000", "size": "0x1000"}"#), "ops[0].ipa"),
            ("missing perm", op(#"{"op": "map", "ipa": "0x0", "pa": "0x0", "size": "0x1000"}"#), "ops[0].perm"),
            (
                "duplicate key",
                #"{"granule": "4k", "granule": "16k", "ipaBits": 40, "tableBase": "0x0", "tableBytes": "0x10000", "ops": []}"#,
                "duplicate key \"granule\""
            ),
            ("not JSON", "{granule: 4k", "invalid JSON"),
            ("start level inconsistent with ipaBits", spec(top: #", "startLevel": 2"#), "startLevel"),
            ("outputBits not a PS size", spec(top: #", "outputBits": 41"#), "outputBits"),
            (
                "map beyond forced outputBits",
                spec(
                    top: #", "outputBits": 32"#,
                    op: #"{"op": "map", "ipa": "0x0", "pa": "0x100000000", "size": "0x1000", "perm": "r"}"#), "ops[0].pa"
            ),
        ]
    }()

    @Test(arguments: invalid.indices)
    func invalidSpecExitsOneNamingTheField(_ i: Int) throws {
        let (name, text, field) = Self.invalid[i]
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("spec.json")
        let image = dir.appendingPathComponent("out.bin")
        try text.write(to: spec, atomically: true, encoding: .utf8)
        let r = try Self.run(["stage2", "build", spec.path, "--image", image.path])
        #expect(r.status == 1, "\(name): exit \(r.status), stderr \(r.stderr)")
        #expect(r.stdout.isEmpty, "\(name): stdout \(r.stdout)")
        #expect(r.stderr.contains(field), "\(name): stderr \(r.stderr) does not name \(field)")
        // No output file, and no temporary file either.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["spec.json"], "\(name)")
        _ = image
    }

    @Test func walkAndDumpRejectBadInput() throws {
        let r = try Self.run([
            "stage2", "walk", "--image", "/nonexistent", "--table-base", "0x0", "--vtcr", "0x80023558", "--vttbr", "0", "0x0",
        ])
        #expect(r.status == 1 && r.stdout.isEmpty && r.stderr.contains("/nonexistent"))
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = dir.appendingPathComponent("img.bin")
        try Data(count: 0x2000).write(to: image)
        // Reserved TG0 (0b11).
        let t = try Self.run(["stage2", "dump", "--image", image.path, "--table-base", "0x0", "--vtcr", "0x8002F558", "--vttbr", "0"])
        #expect(t.status == 1 && t.stderr.contains("TG0"))
        let a = try Self.run([
            "stage2", "walk", "--image", image.path, "--table-base", "0x0", "--vtcr", "0x80023558", "--vttbr", "0", "--access", "q", "0x0",
        ])
        #expect(a.status == 1 && a.stderr.contains("--access"))
    }

    /// The benchmark's output format (not its timings: performance is judged by running it).
    @Test func benchJSONHasTheContractKeys() throws {
        let r = try Self.run(["bench", "stage2", "--json", "--repetitions", "1", "--case", "map-4k-2m-blocks", "--case", "map-4k-blocks"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]
        // One row per case and geometry: the seed's 48-bit layout for both sides, then ours at
        // its default (40-bit) alone.
        #expect(
            rows?.map { "\($0["case"] as? String ?? "?")@\($0["geometry"] as? String ?? "?")" }
                == ["map-4k-2m-blocks@48-bit", "map-4k-2m-blocks@default", "map-4k-blocks@48-bit", "map-4k-blocks@default"])
        for row in rows ?? [] {
            // Each case ran in a process of its own, which measured its own clock cost.
            #expect(row["unit"] as? String == "map call" && (row["clockNanoseconds"] as? Int ?? 0) > 0, "\(row)")
            let sides = row["geometry"] as? String == "48-bit" ? ["swift", "baseline"] : ["swift"]
            #expect(row["baseline"] == nil || sides.count == 2)
            for side in sides {
                let m = row[side] as? [String: Any]
                #expect(m?["minNsPerOp"] is Double || m?["minNsPerOp"] is Int, "\(side): \(row)")
                #expect(m?["medianNsPerOp"] is Double || m?["medianNsPerOp"] is Int, "\(side): \(row)")
                // Exactly the architectural table pages. 48-bit: level-0 root, a level-1 and (for
                // 2M blocks) a level-2 table; 40-bit: the 2-page concatenated level-1 root and
                // (for 2M blocks) one level-2 table. Either way 3 × 4K with 2M blocks, 2 × 4K with
                // the 1G block.
                #expect(m?["tableBytes"] as? Int == (row["case"] as? String == "map-4k-2m-blocks" ? 0x3000 : 0x2000), "\(side): \(row)")
            }
        }
        let bad = try Self.run(["bench", "stage2", "--case", "map-8k"])
        #expect(bad.status == 1 && bad.stderr.contains("map-8k"))
    }
}
