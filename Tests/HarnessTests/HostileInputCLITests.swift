import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Hostile input to `harness stage2 …`, `decode` and the runner's options, as a subprocess:
/// a clear error naming what was wrong, no result on stdout, no file left, no hang.
@Suite struct HostileInputCLITests {
    static let header = #"{ "granule": "4k", "ipaBits": 40, "tableBase": "0x40000000", "tableBytes": "0x10000", "ops": [] "#

    /// Writes `spec` into a fresh directory and runs `stage2 build` on it with `--image DIR/out.bin`.
    static func build(
        _ spec: String, image: String = "out.bin", timeout: Double = 60, rlimits: [(resource: Int32, value: UInt64)] = []
    ) throws -> (Subprocess.Result, [String]) {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("spec.json").path
        FileManager.default.createFile(atPath: path, contents: Data(spec.utf8))
        let r = try Subprocess.run(
            ["stage2", "build", path, "--image", dir.appendingPathComponent(image).path], timeout: timeout, rlimits: rlimits)
        return (r, Subprocess.files(dir).filter { $0 != "spec.json" })
    }

    // Duplicate keys were found by comparing each key with all earlier ones: 80,000 keys would take
    // minutes. With a hash set the parse is linear. The bound is 20 s of CPU (RLIMIT_CPU: SIGXCPU
    // past it), not of wall time, so a loaded machine cannot fail it; 300 s of wall time is a hang guard.
    @Test func aSpecWithManyKeysIsParsedInLinearTime() throws {
        let keys = (0..<80_000).map { "\"k\($0)\": 1" }.joined(separator: ",")
        let spec =
            #"{ "granule": "4k", "ipaBits": 40, "tableBase": "0x40000000", "tableBytes": "0x10000", "ops": [], "#
            + keys + "}"
        #expect(spec.utf8.count > 800_000)
        let (r, left) = try Self.build(spec, timeout: 300, rlimits: [(Int32(RLIMIT_CPU.rawValue), 20)])
        #expect(!r.timedOut && !r.signaled, "no answer within 20 s of CPU: \(r.status) \(r.stderr)")
        #expect(r.status == 1 && r.stderr.contains("unknown key \"k0\""), "\(r.stderr)")
        #expect(r.stdout.isEmpty && left.isEmpty)
    }

    @Test(arguments: [
        (#""ipaBits": +40"#, "expected a value, found '+'"),
        (#""ipaBits": 040"#, "leading zero"),
        (#""ipaBits": 40.0"#, "ipaBits: must be an integer"),
        (#""ipaBits": 4e1"#, "ipaBits: must be an integer"),
        (#""ipaBits": -"#, "expected a digit"),
        (#""ipaBits": 1."#, "expected a digit after '.'"),
        (#""tableBase": "0x+40000000""#, "tableBase: \"0x+40000000\" is not a hex number"),
        (#""tableBase": "0x-0""#, "tableBase: \"0x-0\" is not a hex number"),
        (#""tableBase": " 0x1""#, "tableBase: \" 0x1\" is not a hex number"),
        (#""tableBase": -0"#, "tableBase: -0 is not a non-negative 64-bit integer"),
        (#""granule": "4k\u+abc""#, "\\u escape needs four hex digits"),
        (#""granule": "4k\ud800""#, "high surrogate"),
        (#""granule": "4k\udc00""#, "lone low surrogate"),
        (#""granule": "4k\x""#, "invalid escape"),
        (#""granule": "4k", "granule": "16k""#, "duplicate key \"granule\""),
        (#""granule": tru"#, "expected true"),
    ])
    func notJSONOrNotAnIntegerIsRefused(field: String, message: String) throws {
        // Replace the first occurrence of the field's key in a valid spec with the bad text.
        let key = String(field.prefix { $0 != ":" })
        var spec = Self.header + "}"
        let range = try #require(spec.range(of: key))
        let end = spec[range.upperBound...].firstIndex(of: ",")!
        spec.replaceSubrange(range.lowerBound..<end, with: field)
        let (r, left) = try Self.build(spec)
        #expect(r.status == 1, "\(spec)")
        #expect(r.stderr.contains(message), "\(spec): \(r.stderr)")
        #expect(r.stdout.isEmpty && left.isEmpty)
    }

    @Test func invalidUTF8InAStringIsRefused() throws {
        var bytes = Array((Self.header + "}").utf8)
        bytes[bytes.firstIndex(of: UInt8(ascii: "k"))!] = 0xFF  // "4k" → "4\xFF"
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("spec.json").path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let r = try Subprocess.run(["stage2", "build", path, "--image", dir.path + "/o.bin"])
        #expect(r.status == 1 && r.stderr.contains("not valid UTF-8"), "\(r.stderr)")
        #expect(Subprocess.files(dir) == ["spec.json"])
    }

    @Test func controlBytesAreEscapedAndLongValuesCut() throws {
        // ESC [ 2 J (clear screen) in an unknown key; a 1 MB number.
        let (r, _) = try Self.build(Self.header + #", "\u001b[2J": 1}"#)
        #expect(r.status == 1)
        #expect(!r.stderr.contains("\u{1b}") && r.stderr.contains("\\x1B[2J"), "\(r.stderr)")
        let big = String(repeating: "9", count: 1_000_000)
        let (r2, _) = try Self.build(Self.header.replacingOccurrences(of: #""ipaBits": 40"#, with: #""ipaBits": "# + big) + "}")
        #expect(r2.status == 1 && r2.stderr.contains("ipaBits"))
        #expect(r2.stderr.utf8.count < 1000, "\(r2.stderr.utf8.count) bytes of error")
    }

    @Test func anEmptyKeyIsNamed() throws {
        let (r, _) = try Self.build(Self.header + #", "": 1}"#)
        #expect(r.status == 1 && r.stderr.contains("unknown key \"\""), "\(r.stderr)")
    }

    // A failed write of the result is an error: exit 74, and no image without its registers.
    @Test func aResultThatCannotBeWrittenIsAnError() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("spec.json").path
        FileManager.default.createFile(atPath: spec, contents: Data((Self.header + "}").utf8))
        let r = try Subprocess.run(["stage2", "build", spec, "--image", dir.path + "/out.bin"], stdoutPath: "/dev/full")
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("cannot write the result to stdout") && r.stderr.contains("No space left"), "\(r.stderr)")
        #expect(Subprocess.files(dir) == ["spec.json"])
        let d = try Subprocess.run(["decode", "--esr", "0x93cb8007"], stdoutPath: "/dev/full")
        #expect(d.status == 74, "\(d.stderr)")
    }

    // A 254-byte file name is legal (NAME_MAX 255); the temporary name must fit too.
    @Test func aLongLegalImageNameIsWritten() throws {
        let name = String(repeating: "n", count: 254)
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("spec.json").path
        FileManager.default.createFile(atPath: spec, contents: Data((Self.header + "}").utf8))
        let r = try Subprocess.run(["stage2", "build", spec, "--image", dir.path + "/" + name])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Subprocess.files(dir) == [name, "spec.json"])
        // 256 bytes is too long: said before any work, nothing left.
        let r2 = try Subprocess.run(["stage2", "build", spec, "--image", dir.path + "/" + name + "xx"])
        #expect(r2.status == 1 && r2.stderr.contains("NAME_MAX"), "\(r2.stderr)")
    }

    // A temporary file left by an earlier process (killed with SIGKILL) must not break a build.
    @Test func aStaleTemporaryFileDoesNotBreakALaterBuild() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("spec.json").path
        FileManager.default.createFile(atPath: spec, contents: Data((Self.header + "}").utf8))
        // Every name the old and new schemes could pick for the next process ids.
        let next = Int(getpid())
        for pid in next..<(next + 2000) { FileManager.default.createFile(atPath: dir.path + "/.out.bin.tmp.\(pid)", contents: nil) }
        let r = try Subprocess.run(["stage2", "build", spec, "--image", dir.path + "/out.bin"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    // --output '' and an unwritable --output are usage errors before any test runs.
    @Test func aBadOutputPathIsRefusedBeforeRunning() throws {
        let empty = try Subprocess.run(["--all", "--output", ""])
        #expect(empty.status == 64 && empty.stderr.contains("--output: the file name is empty"), "\(empty.status) \(empty.stderr)")
        #expect(!empty.stdoutText.contains("SKIP"))
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        chmod(dir.path, 0o555)
        defer { chmod(dir.path, 0o755) }
        if getuid() != 0 {
            let ro = try Subprocess.run(["--all", "--output", dir.path + "/r.tap"])
            #expect(ro.status == 64 && ro.stderr.contains("not writable"), "\(ro.stderr)")
            #expect(!ro.stdoutText.contains("SKIP"))
        }
        let long = try Subprocess.run(["--all", "--format", "tap", "--output", dir.path + "/" + String(repeating: "r", count: 300)])
        #expect(long.status == 64 && long.stderr.contains("NAME_MAX"), "\(long.stderr)")
        #expect(!long.stdoutText.contains("SKIP"))
    }

    // Thousands of IPAs come from a file or stdin (as arguments they made parsing quadratic).
    @Test func walkReadsIPAsFromAFileOrStdin() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("spec.json").path
        FileManager.default.createFile(atPath: spec, contents: Data(Stage2CLITests.validSpec.utf8))
        let b = try Subprocess.run(["stage2", "build", spec, "--image", dir.path + "/i.bin"])
        #expect(b.status == 0, "\(b.stderr)")
        let regs = try #require(try JSONSerialization.jsonObject(with: Data(b.stdout)) as? [String: String])
        let ipas = (0..<20_000).map { "0x" + String($0 * 0x1000 % 0x20_0000, radix: 16) }.joined(separator: "\n") + "\n"
        FileManager.default.createFile(atPath: dir.path + "/ipas", contents: Data(ipas.utf8))
        let common = [
            "stage2", "walk", "--image", dir.path + "/i.bin", "--table-base", regs["tableBase"]!,
            "--vtcr", regs["vtcr"]!, "--vttbr", regs["vttbr"]!,
        ]
        let f = try Subprocess.run(common + ["--ipas", dir.path + "/ipas"], timeout: 300)
        #expect(f.status == 0 && !f.timedOut, "\(f.stderr)")
        let lines = f.stdoutText.split(separator: "\n")
        try #require(lines.count == 20_000)
        // IPA 0x1000 was unmapped by the spec: a translation fault at level 3 (FSC 0x07).
        #expect(lines[1] == "0x1000: translation fault, level 3 (FSC 0x07) for read of IPA 0x1000", "\(lines[1])")
        let s = try Subprocess.run(common + ["--ipas", "-", "--json"], stdin: Array("0x0 0x2000\n".utf8))
        #expect(s.status == 0, "\(s.stderr)")
        let arr = try #require((try? JSONSerialization.jsonObject(with: Data(s.stdout))) as? [[String: Any]])
        #expect(arr.count == 2 && arr[0]["pa"] as? String == "0x80000000" && arr[1]["pa"] as? String == "0x80002000")
        let help = try Subprocess.run(["stage2", "walk", "--help"])
        #expect(help.stdoutText.contains("--ipas <file>"))
        let bad = try Subprocess.run(common + ["--ipas", "-"], stdin: Array("0x0 zz\u{1b}\n".utf8))
        #expect(bad.status == 1 && bad.stderr.contains("'zz\\x1B' is not a 64-bit number") && bad.stdout.isEmpty, "\(bad.stderr)")
    }

    // A table that points at itself: the dump stops at what the image can hold and says so.
    @Test func aLoopingImageDumpIsCapped() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 64 KiB image at 0x40000000; every level-0..2 entry is a table descriptor to the image's
        // first page (0x40000000 | 0b11), so the walk revisits the same page forever.
        var bytes = [UInt8](repeating: 0, count: 0x10000)
        for i in stride(from: 0, to: 0x1000, by: 8) {
            let d: UInt64 = 0x4000_0003
            for b in 0..<8 { bytes[i + b] = UInt8(truncatingIfNeeded: d >> (8 * UInt64(b))) }
        }
        FileManager.default.createFile(atPath: dir.path + "/loop.bin", contents: Data(bytes))
        // VTCR: T0SZ 16 (48-bit IPA), SL0 0b10 (start level 0, 4K), TG0 4K, PS 48-bit.
        let vtcr = "0x" + String(16 | 0b10 << 6 | 0b101 << 16 | 1 << 31, radix: 16)
        let r = try Subprocess.run(
            [
                "stage2", "dump", "--image", dir.path + "/loop.bin", "--table-base", "0x40000000",
                "--vtcr", vtcr, "--vttbr", "0x40000000",
            ], timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.count < 20_000_000, "\(r.stdout.count) bytes of dump")
        #expect(r.stdoutText.contains("stopped after") && r.stderr.contains("dump truncated"), "\(r.stderr)")
    }

    @Test(arguments: [
        (["--repeat", "-1"], "--repeat must be between 1 and 100000, got -1"),
        (["--timeout", "-5"], "--timeout must be"),
        (["--timeout", "1e-300"], "--timeout must be"),
        (["--seed", "-1"], "'-1' is invalid for '--seed"),
    ])
    func negativeNumbersSayWhatIsWrong(arguments: [String], message: String) throws {
        let r = try Subprocess.run(["--all"] + arguments)
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains(message) && !r.stderr.contains("Missing value"), "\(r.stderr)")
    }
}
