import KVM
import Machine
import Testing

@testable import Runtime

/// The one mapping from an error that ended a run to its outcome, used by both runners: only a
/// session's skip (the host cannot) is a SKIP; our own errors fail.
@Suite struct OutcomeFromErrorTests {
    struct Other: Error {}

    @Test func eachErrorKindGivesItsOutcome() {
        let kvm = KVMError(operation: "KVM_RUN", errno: 14)
        #expect(Outcome(endedBy: BackendError.timeout(seconds: 2, lastExits: [])).label == "TIMEOUT")
        #expect(Outcome(endedBy: BackendError.memory("unbacked")) == .fail("unbacked"))
        #expect(Outcome(endedBy: BackendError.interrupted(signal: 2)).label == "FAIL")
        #expect(Outcome(endedBy: SessionError.skip("no FEAT_NV2")) == .skip("no FEAT_NV2"))
        #expect(Outcome(endedBy: SessionError.check("wrong")).label == "FAIL")
        #expect(Outcome(endedBy: SessionError.unexpected("trap")).label == "FAIL")
        #expect(Outcome(endedBy: MachineError.kvm(kvm)) == .callFailed(kvm))
        #expect(Outcome(endedBy: kvm) == .callFailed(kvm))
        #expect(Outcome(endedBy: Other()).label == "FAIL")
    }
}
