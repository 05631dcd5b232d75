import ArgumentParser
import Machine
import Reporting
import Stage2
import Stage2Spec

#if canImport(Glibc)
    import Glibc
#endif

/// `harness stage2 fuzz`: hostile specs and images through the code of `stage2 build`,
/// `dump` and `walk`, in this process (a crash ends it, so finishing is the "0 crashes").
struct Stage2FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Feed mutated specs and corrupted images through build/dump/walk; print the reliability figures.",
        discussion: """
            Specs: valid seeds mutated (bytes flipped, cut, duplicated, JSON tokens and extreme
            numbers spliced in); each goes through the spec reader and the table builder, and an
            accepted one is written with the atomic writer into a scratch directory. Figures: crashes
            (the process would die), hangs (an input taking more than --hang-seconds of CPU time), bytes a refused spec
            would have printed, files left in the scratch directory after a refusal.
            Images: valid images corrupted (random descriptors, bit flips, tables pointing back into
            the pool, random VTCR fields, truncation); each is dumped (capped as `stage2 dump` caps)
            and walked at mapped and random IPAs with every access type.
            Deterministic for a --seed. Exit 0 when every figure is 0.
            """)

    @Option(help: "Mutated specs.") var specs = 10_000
    @Option(help: "Corrupted images.") var images = 1_000
    @Option(help: "Seed of the mutations.") var seed: UInt64 = 1
    @Option(help: "An input taking more CPU seconds than this counts as a hang.") var hangSeconds: Double = 5
    @Flag(help: "Print one JSON object.") var json = false

    /// The `--json` line: what ran and what went wrong (all zeros and `ok` on a clean run).
    struct Summary: Encodable {
        var specs, accepted, acceptedNotWritten, refused, images, registersRefused, dumpsCapped, walks, crashes, hangs: Int
        var slowestMs: Double
        var bytesOnStdoutOnFailure, filesLeft, oversizedDumps: Int
        var seed: UInt64
        var ok: Bool
    }

    func validate() throws {
        guard (0...10_000_000).contains(specs), (0...10_000_000).contains(images) else {
            throw ValidationError("--specs and --images must be between 0 and 10000000")
        }
    }

    /// Specs the mutations start from (every granule, blocks, every op kind).
    static let seeds: [String] = [
        #"{"granule": "4k", "ipaBits": 40, "vmid": 1, "tableBase": "0x40000000", "tableBytes": "0x10000", "blocks": true, "ops": [{"op": "map", "ipa": "0x0", "pa": "0x80000000", "size": "0x200000", "perm": "rwx", "memory": "normal"}, {"op": "unmap", "ipa": "0x1000", "size": "0x1000"}, {"op": "protect", "ipa": "0x0", "size": "0x1000", "perm": "r"}]}"#,
        #"{"granule": "16k", "ipaBits": 36, "tableBase": "0x80000000", "tableBytes": "0x40000", "ops": [{"op": "map", "ipa": "0x4000", "pa": "0x100000", "size": "0x8000", "perm": "rw", "memory": "device", "af": false}]}"#,
        #"{"granule": "64k", "ipaBits": 42, "startLevel": 2, "outputBits": 44, "tableBase": "0x40000000", "tableBytes": "0x100000", "blocks": false, "ops": [{"op": "map", "ipa": "0x20000000", "pa": "0x30000000", "size": "0x40000", "perm": "x", "contiguous": true}, {"op": "protect", "ipa": "0x20010000", "size": "0x10000", "perm": "r", "memory": "device-nGnRnE"}]}"#,
    ]
    static let tokens: [String] = [
        "\"", "{", "}", "[", "]", ",", ":", "-", "+", "0", "00", "1e999", "-0", "0x", "\"0x\"",
        "\"0x-1\"", "\\u", "\\ud800", "\\u0000", "\u{1b}[2J", "99999999999999999999", "18446744073709551616",
        "\"ops\": []", "\"granule\": \"4k\"", "null", "true", "[[[[[[[[", "\"\": 1", "1.5", "\u{0}",
    ]

    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 {
            s ^= s >> 12
            s ^= s << 25
            s ^= s >> 27
            return s &* 0x2545_F491_4F6C_DD1D
        }
        mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    }

    func mutate(_ input: [UInt8], _ r: inout Rng) -> [UInt8] {
        var b = input
        // Half the inputs get one mutation (most still parse and reach the builder), half up to four.
        for _ in 0..<(r.below(2) == 0 ? 1 : 1 + r.below(4)) {
            let at = r.below(b.count + 1)
            switch r.below(6) {
            case 0: if !b.isEmpty { b[min(at, b.count - 1)] = UInt8(truncatingIfNeeded: r.next()) }
            case 1:
                let n = r.below(16)
                b.removeSubrange(at..<min(b.count, at + n))
            case 2: b.insert(contentsOf: Array(Self.tokens[r.below(Self.tokens.count)].utf8), at: at)
            case 3:
                let n = r.below(32)
                let chunk = Array(b[at..<min(b.count, at + n)])
                b.insert(contentsOf: chunk, at: min(b.count, at + r.below(64)))
            case 4: if !b.isEmpty { b[min(at, b.count - 1)] ^= UInt8(1) << UInt8(r.below(8)) }
            default:
                // Replace a run of digits/hex with an extreme number.
                if let i = b[at...].firstIndex(where: { (0x30...0x39).contains($0) }) {
                    var j = i
                    while j < b.count, (0x30...0x39).contains(b[j]) || (0x61...0x66).contains(b[j]) || b[j] == 0x78 { j += 1 }
                    let extreme = ["0", "18446744073709551615", "0xffffffffffffffff", "4096", "-1", "0x1000"][r.below(6)]
                    b.replaceSubrange(i..<j, with: Array(extreme.utf8))
                }
            }
        }
        return b
    }

    func run() throws {
        let dir: String
        switch FileIO.makeTemporaryDirectory("/tmp/nvh-fuzz-XXXXXX") {
        case .success(let d): dir = d
        case .failure(let e): throw stage2Fail("cannot create a scratch directory in /tmp: \(String(cString: strerror(e.errno)))")
        }
        defer { rmdir(dir) }
        var r = Rng(s: seed | 1)
        var accepted = 0
        var refused = 0
        var hangs = 0
        var bytesOnFailure = 0
        var filesLeft = 0
        var slowest = 0.0
        var slowestInput = ""
        var notWritten = 0
        let seedBytes = Self.seeds.map { Array($0.utf8) }
        // CPU time of this process: an endless loop shows, a machine busy with other work does not.
        func now() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
        for _ in 0..<specs {
            let input = mutate(seedBytes[r.below(seedBytes.count)], &r)
            let t0 = now()
            // What `stage2 build` would print: the result goes out only from inside the atomic
            // write, after the image is complete and before it is renamed into place.
            var printed = ""
            do {
                let built = try Stage2Build(spec: input)
                let path = dir + "/out.bin"
                // Pools over 16 MiB are built but not written: the write is plain I/O (a 1 GiB
                // image takes seconds to fsync) and would only slow the run.
                if built.memory.size <= 16 << 20 {
                    try AtomicFile.write(
                        to: path, contents: { FileIO.writeAll($0, built.memory) },
                        beforeRename: { printed = try Stage2BuildResult.line(built) })
                    unlink(path)
                } else {
                    notWritten += 1
                }
                accepted += 1
            } catch {
                refused += 1
                bytesOnFailure += printed.utf8.count
                let left = Self.entries(dir)
                filesLeft += left.count
                for f in left { unlink(dir + "/" + f) }
            }
            let dt = now() - t0
            if dt > slowest {
                slowest = dt
                slowestInput = String(decoding: input, as: UTF8.self)
            }
            if dt > hangSeconds { hangs += 1 }
        }
        // Images: built from the seeds, then corrupted.
        // A seed that does not build is this command's own mistake: a failure, not a smaller corpus.
        var bases: [Stage2Build] = []
        for (i, spec) in seedBytes.enumerated() {
            do { bases.append(try Stage2Build(spec: spec)) } catch {
                throw stage2Fail("stage2 fuzz: built-in seed \(i) does not build: \(error.message)")
            }
        }
        var imageFailures = 0
        var walks = 0
        var dumpsCapped = 0
        var registerRefusals = 0
        for _ in 0..<images {
            let base = bases[r.below(bases.count)]
            var bytes = base.memory.bytes
            let poolBase = base.memory.base.rawValue
            for _ in 0..<(1 + r.below(8)) {
                // Half the corruptions hit the root table (the pool's first page), where a table
                // descriptor pointing back into the pool makes the walk revisit tables.
                let slot = (r.below(2) == 0 ? r.below(min(512, bytes.count / 8)) : r.below(bytes.count / 8)) * 8
                var d: UInt64
                switch r.below(4) {
                case 0: d = r.next()
                case 1: d = (poolBase + UInt64(r.below(bytes.count / 4096)) * 4096) | 3  // a table inside the pool (loops)
                case 2: d = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[slot + $1]) << (8 * UInt64($1)) } ^ (1 << UInt64(r.below(64)))
                default: d = 0
                }
                for k in 0..<8 { bytes[slot + k] = UInt8(truncatingIfNeeded: d >> (8 * UInt64(k))) }
            }
            if r.below(8) == 0 { bytes.removeLast(r.below(bytes.count - 8) & ~7) }
            var vtcr = base.vtcr
            if r.below(3) == 0 { vtcr ^= 1 << UInt64(r.below(34)) }
            let t0 = now()
            let memory = ByteBufferTableMemory(base: PhysicalAddress(poolBase), bytes: bytes)
            guard let parameters = try? Stage2WalkParameters(vtcr: VTCR(rawValue: vtcr), vttbr: base.vttbr, xnx: r.below(2) == 0) else {
                registerRefusals += 1
                continue
            }
            let limit = bytes.count / 8 + (1 << 16)
            let dump = Stage2Dump(parameters: parameters, memory: memory, limit: limit)
            let text = dump.text(vtcr: vtcr, vttbr: base.vttbr)
            _ = try JSONText.encode(Stage2DumpReport(dump, vtcr: vtcr, vttbr: base.vttbr))
            if dump.truncated { dumpsCapped += 1 }
            if text.utf8.count > limit * 400 { imageFailures += 1 }
            for _ in 0..<16 {
                let ipa = r.below(2) == 0 ? r.next() & ((1 << 48) - 1) : UInt64(r.below(1 << 22)) << 12
                let access: [Stage2Access] = [.read, .write, .fetchEL1, .fetchEL0]
                _ = parameters.walk(IPA(ipa), access: access[r.below(4)], memory: memory).description
                walks += 1
            }
            let dt = now() - t0
            slowest = max(slowest, dt)
            if dt > hangSeconds { hangs += 1 }
        }
        filesLeft += Self.entries(dir).count
        let ok = hangs == 0 && bytesOnFailure == 0 && filesLeft == 0 && imageFailures == 0
        let slowestMs = (slowest * 10000).rounded() / 10
        let text: String
        if json {
            let summary = Summary(
                specs: specs, accepted: accepted, acceptedNotWritten: notWritten, refused: refused, images: images,
                registersRefused: registerRefusals, dumpsCapped: dumpsCapped, walks: walks, crashes: 0, hangs: hangs,
                slowestMs: slowestMs, bytesOnStdoutOnFailure: bytesOnFailure, filesLeft: filesLeft, oversizedDumps: imageFailures,
                seed: seed, ok: ok)
            text = try JSONText.encode(summary) + "\n"
        } else {
            text = """
                stage2 fuzz (seed \(seed)): \(specs) mutated specs (\(accepted) built, \(notWritten) of them over 16 MiB not written; \(refused) refused), \(images) corrupted images (\(registerRefusals) refused at VTCR/VTTBR, \(dumpsCapped) dumps capped, \(walks) walks)
                  crashes 0 (this process finished), hangs \(hangs) (slowest input \(slowestMs) ms of CPU, limit \(hangSeconds) s)
                  bytes on stdout on failure \(bytesOnFailure), files left on failure \(filesLeft), oversized dumps \(imageFailures)
                \(ok ? "ok" : "FAILED")

                """
        }
        try ResultOutput.write(text)
        if hangs > 0 { ResultOutput.error("stage2 fuzz: slowest spec (\(slowestMs) ms): \(JSONParser.cut(slowestInput, 400))") }
        if !ok { throw ExitCode.failure }
    }

    static func entries(_ dir: String) -> [String] {
        FileIO.directoryEntries(dir) ?? []
    }
}
