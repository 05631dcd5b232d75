import AArch64
import ArgumentParser
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

/// `harness decode --esr X [--far Y] [--hpfar Z] [--json]`: explain a trap the way a KVM
/// developer needs it (exception class, ISS fields, FAR validity, faulting IPA from HPFAR).
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Explain an ESR_EL2 value, with FAR_EL2 and HPFAR_EL2 if given.",
        discussion: """
            Numbers may be hex (0x...), binary (0b...) or decimal. Example:
              harness decode --esr 0x93cb8007 --far 0x50000000 --hpfar 0x8000000000500000
            """
    )

    @Option(help: "ESR_EL2 (exception syndrome).") var esr: String
    @Option(help: "FAR_EL2 (faulting virtual address).") var far: String?
    @Option(help: "HPFAR_EL2 (faulting IPA page; bit 63 is NS).") var hpfar: String?
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func parse(_ text: String?, _ name: String) throws -> UInt64? {
        guard let text else { return nil }
        guard let v = UInt64(registerLiteral: text) else {
            throw ValidationError("--\(name): '\(JSONParser.cut(text))' is not a 64-bit number (use 0x..., 0b... or decimal)")
        }
        return v
    }

    func validate() throws {
        _ = try parse(esr, "esr")
        _ = try parse(far, "far")
        _ = try parse(hpfar, "hpfar")
    }

    func run() throws {
        let report = FaultReport(esr: try parse(esr, "esr")!, far: try parse(far, "far"), hpfar: try parse(hpfar, "hpfar"))
        if json {
            try ResultOutput.write(try DecodeJSON(report).encoded() + "\n")
        } else {
            try ResultOutput.write(report.explanation + "\n")
        }
    }
}

/// The JSON form of a decoded trap; hex strings for register values.
struct DecodeJSON: Encodable {
    var esr: String, ec: String, ecName: String?, ecSummary: String?, il: Bool, iss: String
    var fault: String?, faultLevel: Int?, fsc: String?, access: String?
    var isv: Bool?, sas: Int?, srt: Int?, sf: Bool?, wnr: Bool?, s1ptw: Bool?, fnv: Bool?, ea: Bool?, cm: Bool?
    var immediate: String?
    var far: String?, farValid: Bool, hpfar: String?, hpfarNS: Bool?, ipa: String?
    var summary: String

    init(_ r: FaultReport) {
        func h(_ v: some BinaryInteger) -> String { "0x" + String(v, radix: 16) }
        esr = r.esr.description
        ec = h(r.esr.ecBits)
        ecName = r.esr.exceptionClass?.mnemonic
        ecSummary = r.esr.exceptionClass?.summary
        il = r.esr.il
        iss = h(r.esr.iss)
        fault = r.status.map { $0.kind.rawValue }
        faultLevel = r.status?.level
        fsc = r.status.map { h($0.code) }
        access = r.accessDescription
        if let d = r.esr.dataAbort {
            isv = d.isv
            sas = d.isv ? Int(d.sas) : nil
            srt = d.isv ? Int(d.srt) : nil
            sf = d.isv ? d.sf : nil
            wnr = d.wnr
            s1ptw = d.s1ptw
            fnv = d.fnv
            ea = d.ea
            cm = d.cm
        } else if let i = r.esr.instructionAbort {
            s1ptw = i.s1ptw
            fnv = i.fnv
            ea = i.ea
        }
        immediate = r.esr.immediate.map { h($0) }
        far = r.far.map { h($0) }
        farValid = r.esr.farIsValid
        hpfar = r.hpfar?.description
        hpfarNS = r.hpfar?.ns
        ipa = r.ipa?.description
        summary = r.oneLine
    }

    func encoded() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }
}
