import HostHealth
import KVM
import Reporting
import Testing

@testable import Runtime
@testable import TestCatalog
@testable import harness

#if canImport(Glibc)
    import Glibc
#endif

/// A known failure that comes with a host WARN (illegal-vtcr: kvm_walk_nested_s2) stays XFAIL
/// only when exactly that WARN came with it; any other splat, or none, is a FAIL. A record
/// that names no WARN is a FAIL with any splat.
@Suite struct KnownFailureHealthTests {
    static let kernel = KernelVersion(7, 3, 4)
    static let efault = Outcome.callFailed(KVMError(operation: "KVM_RUN", errno: EFAULT))
    static let variant = Catalog.test(named: "illegal-vtcr")!.variants[0]
    static let walkAbort = Catalog.test(named: "walk-external-abort")!.variants[0]
    static func warn(_ headline: String, taint: UInt64 = 1 << 9) -> HealthFindings {
        HealthFindings(
            splats: [Splat(kind: .warning, headline: headline, sequence: 1, lines: [headline])],
            newTaint: TaintFlags(rawValue: taint))
    }
    static let ours = warn("WARNING: arch/arm64/kvm/nested.c:288 at kvm_walk_nested_s2+0x3dc/0x688, CPU#0: harness/107")

    @Test func exactlyTheRecordedWARNIsXFAIL() {
        let o = reportedOutcome(Self.efault, variant: Self.variant, strict: false, health: Self.ours, kernel: Self.kernel)
        #expect(o.status == .xfail)
        #expect(o.observedFailure?.contains("kvm_walk_nested_s2") == true)
        // Not checked (no health): the ioctl signature alone.
        #expect(reportedOutcome(Self.efault, variant: Self.variant, strict: false, health: nil, kernel: Self.kernel).status == .xfail)
    }

    @Test(arguments: [
        HealthFindings(),  // no WARN at all
        warn("WARNING: arch/arm64/kvm/mmu.c:10 at user_mem_abort+0x10/0x20, CPU#0: harness/1"),  // another WARN
        warn("WARNING: arch/arm64/kvm/nested.c:288 at kvm_walk_nested_s2+0x3dc/0x688", taint: 1 << 9 | 1 << 7),  // more taint
    ])
    func anythingElseIsAFailure(_ h: HealthFindings) {
        let o = reportedOutcome(Self.efault, variant: Self.variant, strict: false, health: h, kernel: Self.kernel)
        #expect(o.status == .fail, "\(o)")
    }

    @Test func aSplatTheRecordDoesNotNameFails() {
        let o = reportedOutcome(Self.efault, variant: Self.walkAbort, strict: false, health: Self.ours, kernel: Self.kernel)
        #expect(o.status == .fail)
        #expect(
            reportedOutcome(Self.efault, variant: Self.walkAbort, strict: false, health: HealthFindings(), kernel: Self.kernel).status
                == .xfail)
    }
}
