import ArgumentParser
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
import Stage2

/// `harness stage2 build|dump|walk`: build a table image from a JSON spec, explain one, walk one.
struct Stage2Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage2",
        abstract: "Stage-2 table tools: build an image from a spec, dump it, walk IPAs through it.",
        subcommands: [Stage2BuildCommand.self, Stage2DumpCommand.self, Stage2WalkCommand.self]
    )
}

/// Prints `error: …` on stderr and exits 1 (nothing on stdout).
func stage2Fail(_ message: String) -> ExitCode {
    let text = Array("error: \(message)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    return ExitCode.failure
}

/// A no-op TLB for tables that are not installed anywhere yet.
struct UninstalledTLB: TLBMaintenance {
    mutating func invalidate(_ batch: [TLBInvalidation]) throws {}
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
        guard let data = FileManager.default.contents(atPath: spec) else { throw stage2Fail("cannot read spec \(spec)") }
        let s: Stage2BuildSpec
        do { s = try Stage2BuildSpec(json: Array(data)) } catch { throw stage2Fail("\(spec): \(error)") }
        let memory = ByteBufferTableMemory(base: PhysicalAddress(s.tableBase), size: s.tableBytes)
        var tables: Stage2Tables<ByteBufferTableMemory>
        do {
            tables = try Stage2Tables(configuration: Stage2Configuration(granule: s.granule, ipaBits: s.ipaBits, vmid: s.vmid,
                                                                         startLevel: s.startLevel, outputBits: s.outputBits, blocks: s.blocks),
                                      memory: memory, poolBase: PhysicalAddress(s.tableBase), poolBytes: s.tableBytes)
        } catch .poolExhausted {
            throw stage2Fail("\(spec): tableBytes: pool of \(stage2Hex(s.tableBytes)) bytes is too small for the root table")
        } catch {
            throw stage2Fail("\(spec): \(error)")
        }
        var tlb = UninstalledTLB()
        for (n, op) in s.ops.enumerated() {
            do {
                switch op {
                case let .map(ipa, pa, size, attributes):
                    try tables.map(ipa: IPA(ipa), pa: PhysicalAddress(pa), size: size, attributes: attributes, tlb: &tlb)
                case let .unmap(ipa, size):
                    try tables.unmap(ipa: IPA(ipa), size: size, tlb: &tlb)
                case let .protectPermissions(ipa, size, permissions):
                    try tables.protect(ipa: IPA(ipa), size: size, permissions: permissions, tlb: &tlb)
                case let .protectAttributes(ipa, size, attributes):
                    try tables.protect(ipa: IPA(ipa), size: size, attributes: attributes, tlb: &tlb)
                }
            } catch let .poolExhausted(needed, available) {
                throw stage2Fail("\(spec): tableBytes: pool too small: ops[\(n)] needs \(needed) more table page\(needed == 1 ? "" : "s"), \(available) free")
            } catch {
                throw stage2Fail("\(spec): ops[\(n)]: \(error)")
            }
        }
        do {
            try memory.withUnsafeBytes { try writeFileAtomically(image, $0) }
        } catch {
            throw stage2Fail("\(image): \(error)")
        }
        print("{\"vtcr\": \"\(stage2Hex(tables.vtcr))\", \"vttbr\": \"\(stage2Hex(tables.vttbr))\", \"tableBase\": \"\(stage2Hex(s.tableBase))\", \"tableBytes\": \"\(stage2Hex(s.tableBytes))\"}")
    }
}

struct FileWriteError: Error, CustomStringConvertible {
    var description: String
}

/// Write to a temporary file next to `path`, then rename it into place; on any failure the
/// temporary file is removed and `path` is untouched.
func writeFileAtomically(_ path: String, _ bytes: UnsafeRawBufferPointer) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    let tmp = dir + "/.\(url.lastPathComponent).tmp.\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, 0o644)
    guard fd >= 0 else { throw FileWriteError(description: "cannot create \(tmp): \(String(cString: strerror(errno)))") }
    var ok = false
    defer {
        if !ok { unlink(tmp) }
    }
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            let e = String(cString: strerror(errno))
            close(fd)
            throw FileWriteError(description: "write failed: \(e)")
        }
        offset += n
    }
    guard close(fd) == 0 else { throw FileWriteError(description: "close failed: \(String(cString: strerror(errno)))") }
    guard rename(tmp, path) == 0 else { throw FileWriteError(description: "rename failed: \(String(cString: strerror(errno)))") }
    ok = true
}

/// Options shared by dump and walk: an image and the registers that describe it.
struct Stage2ImageOptions: ParsableArguments {
    @Option(help: "Table pool image (as written by `stage2 build`).") var image: String
    @Option(help: "Guest-physical address of the image's first byte.") var tableBase: String
    @Option(help: "VTCR_EL2 value.") var vtcr: String
    @Option(help: "VTTBR_EL2 value.") var vttbr: String
    @Flag(help: "Walk as a CPU without FEAT_XNX (only XN[1] counts).") var noXnx = false

    func number(_ text: String, _ name: String) throws -> UInt64 {
        guard let v = UInt64(registerLiteral: text) else { throw stage2Fail("--\(name): '\(text)' is not a 64-bit number") }
        return v
    }

    func load() throws -> (Stage2WalkParameters, ByteBufferTableMemory, UInt64, UInt64) {
        let base = try number(tableBase, "table-base")
        let vtcrValue = try number(vtcr, "vtcr")
        let vttbrValue = try number(vttbr, "vttbr")
        guard let data = FileManager.default.contents(atPath: image) else { throw stage2Fail("cannot read image \(image)") }
        guard !data.isEmpty else { throw stage2Fail("\(image): empty image") }
        let memory = ByteBufferTableMemory(base: PhysicalAddress(base), bytes: Array(data))
        let parameters: Stage2WalkParameters
        do { parameters = try Stage2WalkParameters(vtcr: VTCR(rawValue: vtcrValue), vttbr: vttbrValue, xnx: !noXnx) } catch {
            throw stage2Fail("--vtcr: \(error)")
        }
        return (parameters, memory, vtcrValue, vttbrValue)
    }
}

struct Stage2DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the tables of an image as a tree (merged runs of like pages), or as JSON.")
    @OptionGroup var options: Stage2ImageOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let (parameters, memory, vtcr, vttbr) = try options.load()
        let dump = Stage2Dump(parameters: parameters, memory: memory)
        if json { print(dump.json(vtcr: vtcr, vttbr: vttbr)) } else { print(dump.text(vtcr: vtcr, vttbr: vttbr), terminator: "") }
    }
}

struct Stage2WalkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "walk",
        abstract: "Translate IPAs through an image as the hardware would, or name the fault.")
    @OptionGroup var options: Stage2ImageOptions
    @Option(help: "Access to check: r (read), w (write), x (fetch at EL1), x0 (fetch at EL0).") var access = "r"
    @Flag(help: "Print a JSON array.") var json = false
    @Argument(help: "IPAs to walk.") var ipas: [String]

    func run() throws {
        let a: Stage2Access
        switch access {
        case "r": a = .read; case "w": a = .write; case "x", "x1": a = .fetchEL1; case "x0": a = .fetchEL0
        default: throw stage2Fail("--access: '\(access)' is not r, w, x or x0")
        }
        guard !ipas.isEmpty else { throw stage2Fail("give at least one IPA") }
        let values = try ipas.map { try options.number($0, "ipa") }
        let (parameters, memory, _, _) = try options.load()
        var objects: [String] = []
        for v in values {
            let r = parameters.walk(IPA(v), access: a, memory: memory)
            if json {
                switch r {
                case .translation(let t):
                    let at = t.attributes
                    objects.append("{\"ipa\":\"\(stage2Hex(v))\",\"pa\":\"\(stage2Hex(t.outputAddress.rawValue))\",\"level\":\(t.level),\"size\":\"\(stage2Hex(t.blockSize))\",\"perm\":\"\(at.permissions.letters)\",\"memory\":\"\(at.memory.jsonName)\",\"shareability\":\"\(at.shareability.jsonName)\",\"af\":\(at.accessFlag),\"contiguous\":\(at.contiguous),\"descriptor\":\"\(stage2Hex(t.descriptor))\"}")
                case .fault(let f):
                    let kind = switch f.kind {
                    case .translation: "translation"; case .addressSize: "addressSize"; case .accessFlag: "accessFlag"
                    case .permission: "permission"; case .externalAbortOnWalk: "externalAbortOnWalk"
                    }
                    objects.append("{\"ipa\":\"\(stage2Hex(v))\",\"fault\":\"\(kind)\",\"level\":\(f.level),\"fsc\":\"\(stage2Hex(UInt64(f.statusCode)))\",\"access\":\"\(access)\"}")
                }
            } else {
                print(r.description)
            }
        }
        if json { print("[" + objects.joined(separator: ",") + "]") }
    }
}
