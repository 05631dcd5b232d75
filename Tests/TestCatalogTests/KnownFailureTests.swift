import Foundation
import KVM
import Testing

@testable import Runtime
@testable import TestCatalog

/// Known-failure records: which results they match (exactly the signature, only on the
/// kernels they name), XPASS, --strict, and the record as a plain Codable value.
@Suite struct KnownFailureTests {
    static let range = KernelRange(introduced: KernelVersion(6, 16), fixedIn: KernelVersion(7, 4))
    static let checkRecord = KnownFailure(
        signature: .check("fault for op 1: no fault, expected translation at level 0"),
        reason: "IPA above T0SZ is not a translation fault", reference: "notes §2", kernels: range)
    static let ioctlRecord = KnownFailure(
        signature: .ioctl(operation: "KVM_RUN", errno: "EFAULT"),
        reason: "KVM_RUN fails with EFAULT", reference: "notes §3", kernels: range)
    static let k734 = KernelVersion(7, 3, 4)

    @Test func kernelVersionParsesReleaseStrings() {
        #expect(KernelVersion(release: "7.3.4+deb13-arm64") == KernelVersion(7, 3, 4))
        #expect(KernelVersion(release: "6.16-rc1") == KernelVersion(6, 16, 0))
        #expect(KernelVersion(release: "6.1.0-28-amd64") == KernelVersion(6, 1, 0))
        #expect(KernelVersion(release: "linux") == nil)
        #expect(KernelVersion(release: "7") == nil)
        #expect(KernelVersion(6, 16) < KernelVersion(7, 3, 4) && KernelVersion(7, 3, 4) < KernelVersion(7, 4))
    }

    @Test func rangeBoundsAreInclusiveThenExclusive() {
        #expect(Self.range.contains(KernelVersion(6, 16, 0)))
        #expect(Self.range.contains(Self.k734))
        #expect(!Self.range.contains(KernelVersion(7, 4, 0)))
        #expect(!Self.range.contains(KernelVersion(6, 15, 9)))
        #expect(KernelRange().contains(KernelVersion(3, 0)))
    }

    @Test func exactCheckSignatureIsXFAIL() {
        let v = Verdict.of(
            .fail("fault for op 1: no fault, expected translation at level 0"), records: [Self.checkRecord], kernel: Self.k734,
            strict: false)
        #expect(v == .knownFailure(observed: "fault for op 1: no fault, expected translation at level 0", record: Self.checkRecord))
    }

    @Test func exactIoctlSignatureIsXFAIL() {
        let e = KVMError(operation: "KVM_RUN", errno: EFAULT)
        guard
            case .knownFailure(let observed, let r) = Verdict.of(
                .callFailed(e), records: [Self.ioctlRecord], kernel: Self.k734, strict: false)
        else {
            Issue.record("KVM_RUN EFAULT did not match its record")
            return
        }
        #expect(r == Self.ioctlRecord && observed.hasPrefix("KVM_RUN failed: EFAULT"))
    }

    /// One field of the signature different → a FAILURE that says it is not the known one.
    @Test(arguments: [
        Outcome.fail("fault for op 1: no fault, expected translation at level 1"),
        .fail("fault for op 1: no fault, expected translation at level 0\nextra line"),
        .callFailed(KVMError(operation: "KVM_RUN", errno: EINVAL)),
        .callFailed(KVMError(operation: "KVM_SET_ONE_REG", errno: EFAULT)),
    ])
    func differentFailureIsFAIL(_ outcome: Outcome) {
        let v = Verdict.of(outcome, records: [Self.checkRecord, Self.ioctlRecord], kernel: Self.k734, strict: false)
        guard case .plain(.fail(let m)) = v else {
            Issue.record("\(outcome) → \(v), expected a FAIL")
            return
        }
        #expect(m.hasPrefix(outcome.failureText!) && m.contains("not the known failure recorded for this variant"))
    }

    @Test func passWithRecordIsXPASSAndStrictFailsIt() {
        #expect(
            Verdict.of(.pass, records: [Self.ioctlRecord], kernel: Self.k734, strict: false) == .unexpectedPass(record: Self.ioctlRecord))
        guard case .plain(.fail(let m)) = Verdict.of(.pass, records: [Self.ioctlRecord], kernel: Self.k734, strict: true) else {
            Issue.record("XPASS under --strict is not a failure")
            return
        }
        #expect(m.hasPrefix("XPASS (--strict)"))
    }

    @Test func strictIgnoresRecordsForFailures() {
        let e = KVMError(operation: "KVM_RUN", errno: EFAULT)
        #expect(Verdict.of(.callFailed(e), records: [Self.ioctlRecord], kernel: Self.k734, strict: true) == .plain(.callFailed(e)))
    }

    @Test func recordOutsideItsKernelsDoesNotApply() {
        let e = KVMError(operation: "KVM_RUN", errno: EFAULT)
        #expect(
            Verdict.of(.callFailed(e), records: [Self.ioctlRecord], kernel: KernelVersion(7, 4, 1), strict: false) == .plain(.callFailed(e))
        )
        #expect(Verdict.of(.callFailed(e), records: [Self.ioctlRecord], kernel: nil, strict: false) == .plain(.callFailed(e)))
        #expect(Verdict.of(.pass, records: [Self.ioctlRecord], kernel: KernelVersion(7, 4), strict: false) == .plain(.pass))
    }

    @Test func skipAndTimeoutStayAsTheyAre() {
        #expect(Verdict.of(.skip("no 64K"), records: [Self.ioctlRecord], kernel: Self.k734, strict: false) == .plain(.skip("no 64K")))
        #expect(Verdict.of(.timeout("t"), records: [Self.ioctlRecord], kernel: Self.k734, strict: false) == .plain(.timeout("t")))
    }

    /// The record round-trips through JSON as a plain value (catalog files carry it).
    @Test func recordIsCodable() throws {
        let data = try JSONEncoder().encode([Self.checkRecord, Self.ioctlRecord])
        #expect(try JSONDecoder().decode([KnownFailure].self, from: data) == [Self.checkRecord, Self.ioctlRecord])
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"introduced\":\"6.16.0\"") && text.contains("\"fixedIn\":\"7.4.0\""))
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(KernelVersion.self, from: Data("\"seven\"".utf8)) }
    }

    /// Every record in the catalog is well formed: a reason, a reference, a signature with
    /// content, and the variant it sits on exists.
    @Test func catalogRecordsAreComplete() {
        let records = Catalog.tests.flatMap { t in t.variants.flatMap { v in v.knownFailures.map { ("\(t.name)/\(v.name)", $0) } } }
        #expect(!records.isEmpty)
        for (name, r) in records {
            #expect(!r.reason.isEmpty && !r.reference.isEmpty, "\(name)")
            switch r.signature {
            case .check(let m): #expect(!m.isEmpty, "\(name)")
            case let .ioctl(op, e): #expect(op.hasPrefix("KVM_") && e.hasPrefix("E"), "\(name)")
            }
        }
    }
}
