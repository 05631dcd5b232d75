import ArgumentParser
import Machine
import Reporting
import Stage2
import Stage2Spec

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `harness stage2 build|dump|walk`: build a table image from a JSON spec, explain one, walk one.
struct Stage2Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage2",
        abstract: "Stage-2 table tools: build an image from a spec, dump it, walk IPAs through it.",
        subcommands: [Stage2BuildCommand.self, Stage2DumpCommand.self, Stage2WalkCommand.self, Stage2FuzzCommand.self]
    )
}

/// Prints `error: …` on stderr (control characters escaped) and exits 1 (nothing on stdout).
func stage2Fail(_ message: String) -> ExitCode {
    ResultOutput.error(message)
    return ExitCode.failure
}

struct Stage2BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build stage-2 tables from SPEC.json into a pool image.",
        discussion: """
            Prints {"vtcr", "vttbr", "tableBase", "tableBytes"} (hex strings) and writes OUT.bin: the
            little-endian bytes of the table pool starting at guest-physical tableBase. Any invalid
            spec exits 1 with a message naming the field; nothing is printed and no file is left.
            """
    )
    @Argument(help: "The JSON spec.") var spec: String
    @Option(name: .customLong("image"), help: "Output image path.") var image: String

    func run() throws {
        do { try AtomicFile.validate(path: image) } catch { throw stage2Fail("--image: \(error)") }
        guard let data = FileManager.default.contents(atPath: spec) else { throw stage2Fail("cannot read spec \(spec)") }
        let built: Stage2Build
        do { built = try Stage2Build(spec: Array(data)) } catch { throw stage2Fail("\(spec): \(error.message)") }
        let memory = built.memory
        let result = try Stage2BuildResult.line(built)
        do {
            // The result is printed before the image is renamed into place: no image without its registers.
            try AtomicFile.write(to: image, contents: { FileIO.writeAll($0, memory) }, beforeRename: { try ResultOutput.write(result) })
        } catch let e as ReportingError {
            throw stage2Fail("--image: \(e)")
        }
    }
}

/// Options shared by dump and walk: an image and the registers that describe it.
struct Stage2ImageOptions: ParsableArguments {
    @Option(help: "Table pool image (as written by `stage2 build`).") var image: String
    @Option(help: "Guest-physical address of the image's first byte.") var tableBase: String
    @Option(help: "VTCR_EL2 value.") var vtcr: String
    @Option(help: "VTTBR_EL2 value.") var vttbr: String
    @Flag(help: "Walk as a CPU without FEAT_XNX (only XN[1] counts).") var noXnx = false
    @Option(
        help:
            "The CPU's PA size (ID_AA64MMFR0_EL1.PARange) in bits: 52 reads 64K descriptors with FEAT_LPA and honours VTCR_EL2.DS (FEAT_LPA2)."
    )
    var paBits = 48

    func number(_ text: String, _ name: String) throws -> UInt64 {
        guard let v = UInt64(registerLiteral: text) else { throw stage2Fail("--\(name): '\(JSONParser.cut(text))' is not a 64-bit number") }
        return v
    }

    func load() throws -> (Stage2WalkParameters, ByteBufferTableMemory, UInt64, UInt64) {
        let base = try number(tableBase, "table-base")
        let vtcrValue = try number(vtcr, "vtcr")
        let vttbrValue = try number(vttbr, "vttbr")
        guard PhysicalAddressSize.encoding(bits: paBits) != nil else { throw stage2Fail("--pa-bits: \(paBits) is not a PARange size") }
        guard let data = FileManager.default.contents(atPath: image) else { throw stage2Fail("cannot read image \(image)") }
        guard !data.isEmpty else { throw stage2Fail("\(image): empty image") }
        let memory = ByteBufferTableMemory(base: PhysicalAddress(base), bytes: Array(data))
        let parameters: Stage2WalkParameters
        do { parameters = try Stage2WalkParameters(vtcr: VTCR(rawValue: vtcrValue), vttbr: vttbrValue, xnx: !noXnx, paMax: paBits) } catch {
            throw stage2Fail("--vtcr: \(error)")
        }
        return (parameters, memory, vtcrValue, vttbrValue)
    }
}

struct Stage2DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the tables of an image as a tree (merged runs of like pages), or as JSON.",
        discussion: """
            A walk that visits more descriptors than the image holds reaches a table twice (a table
            that points back at itself, or tables shared between entries); the dump then stops at
            --max-entries descriptors and says so ("truncated": true in JSON).
            """)
    @OptionGroup var options: Stage2ImageOptions
    @Flag(help: "Print JSON.") var json = false
    @Option(
        help: ArgumentHelp("Stop after visiting N descriptors (default: as many as the image holds, plus the root table).", valueName: "n"))
    var maxEntries: Int?

    func validate() throws {
        if let maxEntries, maxEntries < 1 { throw ValidationError("--max-entries must be at least 1, got \(maxEntries)") }
    }

    func run() throws {
        let (parameters, memory, vtcr, vttbr) = try options.load()
        let limit = maxEntries ?? (Int(memory.size) / 8 + (1 << 16))
        let dump = Stage2Dump(parameters: parameters, memory: memory, limit: limit)
        var text =
            json ? try JSONText.encode(Stage2DumpReport(dump, vtcr: vtcr, vttbr: vttbr)) + "\n" : dump.text(vtcr: vtcr, vttbr: vttbr)
        if dump.truncated && !json {
            text +=
                "(stopped after \(limit) descriptors: more than the image holds, so a table is reached twice; --max-entries raises the limit)\n"
        }
        try ResultOutput.write(text)
        if dump.truncated { ResultOutput.error("dump truncated after \(limit) descriptors (see --max-entries)") }
    }
}

struct Stage2WalkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "walk",
        abstract: "Translate IPAs through an image as the hardware would, or name the fault.",
        discussion: """
            IPAs come from the arguments or, for many of them, from --ipas FILE (or - for stdin):
            numbers separated by white space, one per line for example.
            """)
    @OptionGroup var options: Stage2ImageOptions
    @Option(help: "Access to check: r (read), w (write), x (fetch at EL1), x0 (fetch at EL0).") var access = "r"
    @Flag(help: "Print a JSON array.") var json = false
    @Option(
        name: .customLong("ipas"),
        help: ArgumentHelp("Read IPAs from FILE, or from stdin with -, separated by white space.", valueName: "file"))
    var ipaFile: String?
    @Argument(help: "IPAs to walk.") var ipas: [String] = []

    /// The IPA texts from --ipas (file or stdin).
    func ipasFromFile(_ path: String) throws -> [Substring] {
        let bytes: [UInt8]
        if path == "-" {
            switch FileIO.readAll(0) {
            case .success(let all): bytes = all
            case .failure(let e): throw stage2Fail("--ipas -: cannot read stdin: \(String(cString: strerror(e.errno)))")
            }
        } else {
            guard let data = FileManager.default.contents(atPath: path) else { throw stage2Fail("--ipas: cannot read \(path)") }
            bytes = Array(data)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" })
    }

    func run() throws {
        let a: Stage2Access
        switch access {
        case "r": a = .read
        case "w": a = .write
        case "x", "x1": a = .fetchEL1
        case "x0": a = .fetchEL0
        default: throw stage2Fail("--access: '\(JSONParser.cut(access))' is not r, w, x or x0")
        }
        var texts = ipas.map { Substring($0) }
        if let ipaFile { texts += try ipasFromFile(ipaFile) }
        guard !texts.isEmpty else { throw stage2Fail("give at least one IPA (as arguments or with --ipas FILE)") }
        let values = try texts.map { try options.number(String($0), "ipa") }
        let (parameters, memory, _, _) = try options.load()
        var records: [Stage2WalkRecord] = []
        var lines = ""
        for v in values {
            let r = parameters.walk(IPA(v), access: a, memory: memory)
            if json {
                switch r {
                case .translation(let t): records.append(Stage2WalkRecord(ipa: v, t))
                case .fault(let f): records.append(Stage2WalkRecord(ipa: v, f, access: access))
                }
            } else {
                lines += r.description + "\n"
            }
        }
        try ResultOutput.write(json ? try JSONText.encode(records) + "\n" : lines)
    }
}
