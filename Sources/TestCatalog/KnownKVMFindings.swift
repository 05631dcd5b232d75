/// The known failures of the catalog on Linux KVM nested virtualization: four departures from
/// the Arm ARM found by the catalog in Linux 7.3.4 (the emulated host CI boots), each traced
/// to KVM's software walk of the guest hypervisor's stage 2 (`arch/arm64/kvm/nested.c`).
/// Nested virtualization (KVM_CAP_ARM_EL2) first shipped in Linux 6.16; no release fixes
/// any of them yet. The variants carry these records (`TestVariant.knownFailures`).
enum KnownKVMFindings {
    static let nestedSince = KernelVersion(6, 16)

    /// VTCR_EL2.VS = 0 does not make VMIDs alias: KVM's `get_vmid()` ignores the guest's VS
    /// and `lookup_s2_mmu()` matches the full VTTBR, so VMID 0x0102 gets its own shadow MMU and
    /// a TLBI under 0x0102 misses 0x0002's translations: the loads after it see the old pages.
    /// What vmid-isolation/vs0-alias reports on those kernels: the loads after each TLBI under
    /// the other name still read the page mapped before it.
    static let vs0AliasFailure = """
        op 3 (LOAD64 at 0x8000000000) produced 0x5aa500000001c0de, expected 0x5aa500000002c0de
        op 4 (LOAD64 at 0x8000000000) produced 0x5aa500000001c0de, expected 0x5aa500000002c0de
        op 4 (LOAD64 at 0x8000000000) read a value other than 0x5aa500000002c0de in 32 of 32 repetition(s), first in repetition 1
        op 8 (LOAD64 at 0x8000000000) produced 0x5aa500000002c0de, expected 0x5aa500000003c0de
        op 9 (LOAD64 at 0x8000000000) produced 0x5aa500000002c0de, expected 0x5aa500000003c0de
        op 9 (LOAD64 at 0x8000000000) read a value other than 0x5aa500000003c0de in 32 of 32 repetition(s), first in repetition 1
        """

    static func vs0Alias(_ message: String) -> KnownFailure {
        KnownFailure(signature: .check(message),
                     reason: "VTCR_EL2.VS=0: KVM keeps VMID 0x0102 apart from 0x0002 (get_vmid ignores VS), so a TLBI under one misses the other's translations",
                     reference: "Arm ARM D24.2 VTCR_EL2.VS, VTTBR_EL2.VMID; arch/arm64/kvm/nested.c get_vmid(), lookup_s2_mmu()",
                     kernels: KernelRange(introduced: nestedSince))
    }

    /// An IPA above T0SZ is not a level-0 translation fault: `walk_nested_s2_pgd()` never
    /// checks the IPA against the input size and indexes with the upper bits dropped.
    static let ipaAboveT0SZ = KnownFailure(
        signature: .check("1 expected event(s) never happened, first: stage-2 fault: op 0: translation fault L0, read of 8 byte(s) into x11 at 0x10000000010"),
        reason: "an IPA above VTCR_EL2.T0SZ is translated through its alias below 2^40 instead of faulting at level 0",
        reference: "Arm ARM AArch64.S2Translate / AArch64.IPAIsOutOfRange; arch/arm64/kvm/nested.c walk_nested_s2_pgd()",
        kernels: KernelRange(introduced: nestedSince))

    /// An SL0 inconsistent with T0SZ/TG0: `check_base_s2_limits()` returns -EFAULT, a WARN_ON
    /// in `kvm_walk_nested_s2()` fires in the host, and KVM_RUN fails with EFAULT. Commit
    /// 4c2264ecdf39 (7.0) made the ESR right but kept the WARN and the error return.
    static let illegalVTCR = KnownFailure(
        signature: .ioctl(operation: "KVM_RUN", errno: "EFAULT"),
        reason: "an illegal VTCR_EL2.SL0 makes the host WARN in kvm_walk_nested_s2 and KVM_RUN fail with EFAULT instead of a level-0 translation fault at vEL2",
        reference: "Arm ARM S2InvalidSL / S2InconsistentSL; arch/arm64/kvm/nested.c check_base_s2_limits(); partial fix 4c2264ecdf39",
        kernels: KernelRange(introduced: nestedSince))

    /// A table pointer outside every memslot: the walker sets ESR_ELx_FSC_SEA_TTW(level) but
    /// returns -EFAULT, so KVM_RUN fails instead of a synchronous external abort at vEL2.
    static let walkExternalAbort = KnownFailure(
        signature: .ioctl(operation: "KVM_RUN", errno: "EFAULT"),
        reason: "a stage-2 table pointer outside every memslot makes KVM_RUN fail with EFAULT instead of a synchronous external abort on the walk at vEL2",
        reference: "Arm ARM D24.2 ESR_EL2 DFSC 0b0101ll; arch/arm64/kvm/nested.c walk_nested_s2_pgd() (partial fix only)",
        kernels: KernelRange(introduced: nestedSince))
}
