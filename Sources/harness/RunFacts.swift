import HostHealth
import Machine

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the log directory's SUMMARY says about the run before it starts: the harness build,
/// the exact command, the seed, the kernel, QEMU when emulated, KVM's capabilities and the
/// vCPU's ID registers.
enum RunFacts {
    /// The commit the harness was built from: $NVH_GIT_COMMIT (scripts/emu-host and
    /// scripts/harness-anywhere set it; `-dirty` when the work tree had changes).
    static func gitCommit(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let c = environment["NVH_GIT_COMMIT"], !c.isEmpty { return c }
        return "unknown (NVH_GIT_COMMIT is not set; scripts/emu-host and scripts/harness-anywhere set it)"
    }

    /// A shell-quoted command line.
    static func quoted(_ arguments: [String]) -> String {
        arguments.map { a in
            a.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,@+%".contains($0) }) && !a.isEmpty
                ? a : "'" + a.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        }.joined(separator: " ")
    }

    static func summary(
        seed: UInt64, healthNote: String?, e2h0: Bool,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String] {
        var lines: [String] = []
        lines.append("harness: nvharness, built from commit \(gitCommit(environment: environment))")
        lines.append("command: " + quoted(CommandLine.arguments))
        lines.append("seed: \(seed)")
        lines.append("started: " + Date().formatted(.iso8601))
        let k = HostHealthMonitor.kernelFacts()
        lines.append("kernel release: \(k.release)")
        lines.append("kernel command line: \(k.commandLine)")
        lines.append(
            "qemu: "
                + (environment["NVH_QEMU_VERSION"].map { "\($0) (emulated host)" }
                    ?? "not emulated (a real host, or NVH_QEMU_VERSION unset)"))
        lines.append("host health check: " + (healthNote ?? "on (/proc/sys/kernel/tainted and /dev/kmsg before and after each test)"))
        let r = HostProbe.run()
        func opt(_ v: Int?) -> String { v.map(String.init) ?? "n/a" }
        lines.append("kvm: \(r.kvmPath) present=\(r.kvmPresent) accessible=\(r.kvmAccessible) api=\(opt(r.apiVersion))")
        lines.append(
            "kvm capabilities: KVM_CAP_ARM_EL2=\(opt(r.capArmEL2)) KVM_CAP_ARM_EL2_E2H0=\(opt(r.capArmEL2E2H0)) KVM_CAP_ARM_VM_IPA_SIZE=\(opt(r.maxIPABits)) vGICv3=\(r.vgicV3Creatable.map(String.init) ?? "n/a")"
        )
        switch VCPUIdentity.read(e2h0: e2h0) {
        case .success(let regs):
            lines.append("vCPU ID registers (HAS_EL2 vCPU):")
            lines += regs.map { "  \($0.0) = 0x" + String($0.1, radix: 16, uppercase: false) }
        case .failure(let error):
            lines.append("vCPU ID registers: not read (\(error))")
        }
        return lines
    }
}
