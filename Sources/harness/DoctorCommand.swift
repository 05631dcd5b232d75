import ArgumentParser
import Machine

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

/// `harness doctor`: can this host run the nested tests, and if not, why and what to do.
/// Exit 0 when it can, 77 (skip) otherwise — including on x86_64, where it names the
/// emulated-host command instead.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Can this host run the nested tests? (exit 0 yes, 77 no, with remedies)",
        discussion: """
            Checks the CPU architecture, kernel, /dev/kvm (present, accessible, which group to join),
            the KVM API version, KVM_CAP_ARM_EL2, KVM_CAP_ARM_EL2_E2H0, KVM_CAP_ARM_VM_IPA_SIZE,
            whether a vGICv3 can be created, and — from a real HAS_EL2 vCPU — the stage-2 granules
            (ID_AA64MMFR0_EL1 TGran4_2/TGran16_2/TGran64_2) and PARange. --json prints one object
            with stable keys (see docs/kvm-and-doctor.md).
            """
    )

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @Option(name: .long, help: "The KVM device node.")
    var kvm = "/dev/kvm"

    func run() throws {
        let report = HostProbe.run(kvmPath: kvm)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let data = try encoder.encode(report)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(DoctorText.render(report), terminator: "")
        }
        if !report.canRunNestedTests { throw ExitCode(77) }
    }
}

/// The text form of a HostReport.
enum DoctorText {
    static func render(_ r: HostReport) -> String {
        var lines: [String] = []
        func row(_ ok: Bool?, _ label: String, _ value: String) {
            let mark = ok == nil ? "  -" : (ok! ? " ok" : " NO")
            let padded = label.count >= 26 ? String(label.prefix(26)) : label + String(repeating: " ", count: 26 - label.count)
            lines.append("\(mark)  \(padded) \(value)")
        }
        func opt(_ v: Int?) -> String { v.map(String.init) ?? "n/a" }

        row(r.isARM64Host, "CPU architecture", r.architecture)
        row(nil, "kernel", r.kernelRelease)
        row(r.kvmPresent, "KVM device present", "\(r.kvmPath): " + (r.kvmPresent ? "yes" : "no"))
        if r.kvmPresent {
            row(
                r.kvmAccessible, "KVM device accessible",
                r.kvmAccessible ? "yes" : "no" + (r.kvmGroup.map { " (owned by group '\($0)')" } ?? ""))
        }
        if let v = r.apiVersion { row(v == 12, "KVM API version", String(v)) }
        if r.isARM64Host && r.kvmAccessible {
            row(r.armEL2Available, "KVM_CAP_ARM_EL2", opt(r.capArmEL2))
            row(r.capArmEL2E2H0.map { $0 > 0 }, "KVM_CAP_ARM_EL2_E2H0", opt(r.capArmEL2E2H0))
            row(nil, "KVM_CAP_ARM_VM_IPA_SIZE", r.maxIPABits.map { $0 == 0 ? "0 (40-bit IPA only)" : "\($0) bits" } ?? "n/a")
            row(r.vgicV3Creatable, "vGICv3 creatable", r.vgicV3Creatable.map { $0 ? "yes" : "no" } ?? "n/a")
            row(r.el2VCPUCreated, "EL2 vCPU (HAS_EL2)", r.el2VCPUCreated.map { $0 ? "created" : "failed" } ?? "not tried")
            if let e2h0 = r.el2E2H0VCPUCreated { row(e2h0, "EL2 vCPU (HAS_EL2_E2H0)", e2h0 ? "created" : "failed") }
            if let raw = r.idAA64MMFR0, let g = r.stage2Granules {
                row(nil, "ID_AA64MMFR0_EL1", "0x" + String(raw, radix: 16))
                row(g.tgran4_2.hasPrefix("supported"), "stage-2 4K (TGran4_2)", g.tgran4_2)
                row(g.tgran16_2.hasPrefix("supported"), "stage-2 16K (TGran16_2)", g.tgran16_2)
                row(g.tgran64_2.hasPrefix("supported"), "stage-2 64K (TGran64_2)", g.tgran64_2)
                row(nil, "PARange", r.paRangeBits.map { "\($0) bits" } ?? "reserved value")
            }
            if let ran = r.el2GuestRuns {
                row(ran, "vEL2 guest smoke run", r.el2GuestDetail ?? "")
            }
        }
        for n in r.notes { lines.append("note: \(n)") }
        for p in r.problems { lines.append("missing: \(p.item) — \(p.remedy)") }
        lines.append(
            r.canRunNestedTests
                ? "result: this host can run the nested tests"
                : "result: this host cannot run the nested tests (exit 77)")
        return lines.joined(separator: "\n") + "\n"
    }
}
