import AArch64
import CKVM
import Glibc

/// Core (non-system) registers of an arm64 vCPU, in KVM's struct kvm_regs
/// (Documentation/virt/kvm/api.rst, KVM_SET_ONE_REG, "arm64 core/FP-SIMD registers").
public enum CoreRegister: Hashable, Sendable, CustomStringConvertible {
    /// X0…X30.
    case x(Int)
    /// SP_EL0 (kvm_regs.regs.sp).
    case sp
    case pc
    /// PSTATE as SPSR-format bits (mode, DAIF, NZCV…).
    case pstate
    case spEL1
    case elrEL1

    public var description: String {
        switch self {
        case let .x(n): "x\(n)"
        case .sp: "sp_el0"
        case .pc: "pc"
        case .pstate: "pstate"
        case .spEL1: "sp_el1"
        case .elrEL1: "elr_el1"
        }
    }

    /// The KVM ONE_REG id, from the kernel's KVM_REG_ARM_CORE layout (0 off arm64).
    public var kvmRegisterID: UInt64 {
        switch self {
        case let .x(n): (0...30).contains(n) ? ckvm_arm64_core_reg_x(UInt32(n)) : 0
        case .sp: ckvm_arm64_core_reg_sp()
        case .pc: ckvm_arm64_core_reg_pc()
        case .pstate: ckvm_arm64_core_reg_pstate()
        case .spEL1: ckvm_arm64_core_reg_sp_el1()
        case .elrEL1: ckvm_arm64_core_reg_elr_el1()
        }
    }
}

extension SystemRegister {
    /// The KVM ONE_REG id (ARM64_SYS_REG(op0, op1, CRn, CRm, op2) from <asm/kvm.h>); 0 off arm64.
    public var kvmRegisterID: UInt64 {
        ckvm_arm64_sys_reg_id(UInt32(op0), UInt32(op1), UInt32(crn), UInt32(crm), UInt32(op2))
    }

    /// The system register a ONE_REG id names, or nil if it is not an arm64 sysreg id.
    public init?(kvmRegisterID id: UInt64) {
        var fields: [UInt32] = [0, 0, 0, 0, 0]
        guard ckvm_arm64_sys_reg_fields(id, &fields) != 0 else { return nil }
        let generic = SystemRegister(
            op0: UInt8(fields[0]), op1: UInt8(fields[1]), crn: UInt8(fields[2]),
            crm: UInt8(fields[3]), op2: UInt8(fields[4]))
        self = SystemRegister.all.first { $0 == generic } ?? generic
    }
}

/// KVM_ARM_VCPU_INIT feature bits (bit numbers from <asm/kvm.h>).
public struct VCPUFeatures: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// KVM_ARM_VCPU_PSCI_0_2: PSCI v0.2+ calls are handled by KVM.
    public static let psci02 = VCPUFeatures(rawValue: 1 << 0)
    /// KVM_ARM_VCPU_HAS_EL2: the vCPU has EL2 and starts there (nested virtualization).
    public static let hasEL2 = VCPUFeatures(rawValue: 1 << 1)
    /// KVM_ARM_VCPU_HAS_EL2_E2H0: with hasEL2, HCR_EL2.E2H is RES0 (non-VHE guest hypervisor).
    public static let hasEL2E2H0 = VCPUFeatures(rawValue: 1 << 2)

    var names: [String] {
        var n: [String] = []
        if contains(.psci02) { n.append("PSCI_0_2") }
        if contains(.hasEL2) { n.append("HAS_EL2") }
        if contains(.hasEL2E2H0) { n.append("HAS_EL2_E2H0") }
        return n
    }
}

/// A vCPU fd and its mmapped kvm_run area. Closed (and unmapped) exactly once.
public struct VCPU: ~Copyable {
    public let fileDescriptor: Int32
    public let id: Int
    let runArea: UnsafeMutableRawPointer
    /// KVM_GET_VCPU_MMAP_SIZE: the size the kvm_run area was mapped with.
    public let runAreaSize: Int

    init(fileDescriptor: Int32, id: Int, runArea: UnsafeMutableRawPointer, runAreaSize: Int) {
        self.fileDescriptor = fileDescriptor
        self.id = id
        self.runArea = runArea
        self.runAreaSize = runAreaSize
    }

    deinit {
        // SAFETY: runArea was mapped with runAreaSize bytes in createVCPU and nothing else unmaps it.
        munmap(runArea, runAreaSize)
        closeFD(fileDescriptor)
    }

    public consuming func close() {
        let (fd, area, size) = (fileDescriptor, runArea, runAreaSize)
        discard self
        // SAFETY: as in deinit; `discard self` ensures deinit will not unmap/close again.
        munmap(area, size)
        closeFD(fd)
    }

    var run: UnsafeMutablePointer<kvm_run> {
        // SAFETY: the mapping starts with struct kvm_run (api.rst) and is at least its size.
        runArea.assumingMemoryBound(to: kvm_run.self)
    }

    // MARK: running

    /// One KVM_RUN. With `timeoutNanoseconds` > 0 a watchdog interrupts it after that long
    /// (a POSIX timer signals this thread; its handler sets kvm_run->immediate_exit) and the
    /// result is `.interrupted(.watchdog)`. SIGINT/SIGTERM interrupt it as
    /// `.interrupted(.stopSignal(n))` once `installSignalHandlers()` has run.
    public func run(timeoutNanoseconds: UInt64 = 0) throws(KVMError) -> VCPUExit {
        try run(monotonicDeadline: timeoutNanoseconds == 0 ? 0 : VCPU.monotonicNanoseconds() &+ timeoutNanoseconds)
    }

    /// One KVM_RUN with the watchdog set for an absolute CLOCK_MONOTONIC time in nanoseconds
    /// (`VCPU.monotonicNanoseconds()`; 0 = none). Calls with the same deadline keep one timer
    /// armed, so a loop under one deadline makes no timer syscalls per exit.
    public func run(monotonicDeadline: UInt64) throws(KVMError) -> VCPUExit {
        var outcome: Int32 = 0
        let r = ckvm_vcpu_run(fileDescriptor, run, monotonicDeadline, &outcome)
        let e = Glibc.errno
        if outcome == Int32(CKVM_RUN_STOP) { return .interrupted(.stopSignal(Int32(ckvm_stop_signal()))) }
        if r < 0 {
            if e == EINTR {
                return .interrupted(outcome == Int32(CKVM_RUN_WATCHDOG) ? .watchdog : .otherSignal)
            }
            throw KVMError(operation: "KVM_RUN", errno: e)
        }
        return currentExit
    }

    /// CLOCK_MONOTONIC now, in nanoseconds (the watchdog's clock).
    public static func monotonicNanoseconds() -> UInt64 { ckvm_monotonic_ns() }

    /// Installs the SIGINT/SIGTERM and watchdog signal handlers (idempotent). After this the
    /// first SIGINT/SIGTERM interrupts KVM_RUN instead of killing the process (a second one
    /// kills it the default way), so the owner can tear the VM down.
    public static func installSignalHandlers() throws(KVMError) {
        if ckvm_install_signal_handlers() != 0 { throw .lastError("sigaction") }
    }

    /// KVM_RUN calls interrupted by a signal that was neither a stop nor a passed deadline
    /// (EINTR; the run loop retries them), since the process started.
    public static var spuriousInterruptions: UInt64 { ckvm_spurious_interruptions() }

    /// The SIGINT/SIGTERM received since the handlers were installed, if any.
    public static var pendingStopSignal: Int32? {
        let s = ckvm_stop_signal()
        return s == 0 ? nil : Int32(s)
    }

    /// Decodes the exit KVM_RUN last reported.
    public var currentExit: VCPUExit {
        let run = self.run
        let reason = ckvm_run_exit_reason(run)
        switch reason {
        case ckvm_KVM_EXIT_MMIO:
            let length = Int(ckvm_run_mmio_len(run))
            let isWrite = ckvm_run_mmio_is_write(run) != 0
            var data: UInt64 = 0
            if isWrite {
                let bytes = ckvm_run_mmio_data(run)!
                for i in 0..<min(length, 8) { data |= UInt64(bytes[i]) << (8 * UInt64(i)) }
            }
            return .mmio(address: PhysicalAddress(ckvm_run_mmio_phys_addr(run)), length: length, isWrite: isWrite, data: data)
        case ckvm_KVM_EXIT_SYSTEM_EVENT:
            let flags = ckvm_run_system_event_ndata(run) > 0 ? ckvm_run_system_event_data(run, 0) : 0
            return .systemEvent(type: .init(raw: ckvm_run_system_event_type(run)), flags: flags)
        case ckvm_KVM_EXIT_INTERNAL_ERROR:
            return .internalError(suberror: ckvm_run_internal_suberror(run))
        case ckvm_KVM_EXIT_FAIL_ENTRY:
            return .failEntry(reason: ckvm_run_fail_entry_reason(run), cpu: ckvm_run_fail_entry_cpu(run))
        case ckvm_KVM_EXIT_INTR:
            return .interrupted(.otherSignal)
        case ckvm_KVM_EXIT_ARM_NISV:
            return .armNISV(esrISS: ckvm_run_arm_nisv_esr_iss(run), faultIPA: PhysicalAddress(ckvm_run_arm_nisv_fault_ipa(run)))
        case ckvm_KVM_EXIT_HLT: return .halt
        case ckvm_KVM_EXIT_SHUTDOWN: return .shutdown
        case ckvm_KVM_EXIT_IO:
            return .io(
                port: ckvm_run_io_port(run), size: Int(ckvm_run_io_size(run)),
                isWrite: ckvm_run_io_direction(run) == UInt8(ckvm_KVM_EXIT_IO_OUT), count: Int(ckvm_run_io_count(run)))
        case ckvm_KVM_EXIT_DEBUG: return .debug
        case ckvm_KVM_EXIT_EXCEPTION: return .exception
        case ckvm_KVM_EXIT_HYPERCALL: return .hypercall
        default: return .unknown(reason: reason)
        }
    }

    /// The extra data of the last KVM_EXIT_INTERNAL_ERROR (internal.data[0..<ndata]).
    public var internalErrorData: [UInt64] {
        let run = self.run
        let n = min(ckvm_run_internal_ndata(run), 16)
        return (0..<n).map { ckvm_run_internal_data(run, $0) }
    }

    /// Supplies the value an MMIO read returns to the guest: writes the low `length` bytes of
    /// `value` (little-endian) into kvm_run->mmio.data; KVM completes the load on the next
    /// KVM_RUN. Returns false (and changes nothing) if the last exit was not an MMIO read.
    @discardableResult
    public func completeMMIORead(value: UInt64) -> Bool {
        let run = self.run
        guard ckvm_run_exit_reason(run) == ckvm_KVM_EXIT_MMIO, ckvm_run_mmio_is_write(run) == 0 else { return false }
        let length = min(Int(ckvm_run_mmio_len(run)), ckvm_run_mmio_data_capacity())
        let bytes = ckvm_run_mmio_data(run)!
        for i in 0..<length { bytes[i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        return true
    }

    /// Completes the operation the last exit left pending (e.g. the MMIO access of a
    /// KVM_EXIT_MMIO: a read's data goes to its register and the PC moves past the
    /// instruction) without running any guest instruction: KVM_RUN with
    /// kvm_run->immediate_exit = 1, which returns EINTR once the pending work is done
    /// (Documentation/virt/kvm/api.rst, "immediate_exit" and "KVM_EXIT_MMIO": the guest state
    /// is consistent only after re-entering KVM_RUN). After this the registers (PC, x0..x30)
    /// may be read and changed with ONE_REG.
    public func completePendingExit() throws(KVMError) {
        let run = self.run
        ckvm_run_set_immediate_exit(run, 1)
        let r = ckvm_ioctl_val(fileDescriptor, ckvm_KVM_RUN, 0)
        let e = Glibc.errno
        ckvm_run_set_immediate_exit(run, 0)
        if r < 0 && e != EINTR { throw KVMError(operation: "KVM_RUN (immediate_exit)", errno: e) }
    }

    // MARK: arm64 init and registers

    /// KVM_ARM_VCPU_INIT with `target` (from KVM_ARM_PREFERRED_TARGET) and `features`.
    public func armInit(target: UInt32, features: VCPUFeatures) throws(KVMError) {
        guard kvmHasARM64 else { throw .notArm64Host("KVM_ARM_VCPU_INIT") }
        var bits: [(VCPUFeatures, Bool, UInt32)] = [(.psci02, true, ckvm_KVM_ARM_VCPU_PSCI_0_2)]
        bits.append((.hasEL2, ckvm_has_KVM_ARM_VCPU_HAS_EL2, ckvm_KVM_ARM_VCPU_HAS_EL2))
        bits.append((.hasEL2E2H0, ckvm_has_KVM_ARM_VCPU_HAS_EL2_E2H0, ckvm_KVM_ARM_VCPU_HAS_EL2_E2H0))
        var words = [UInt32](repeating: 0, count: Int(ckvm_kvm_vcpu_init_feature_words))
        for (feature, available, bit) in bits where features.contains(feature) {
            guard available else {
                throw KVMError(
                    operation: "KVM_ARM_VCPU_INIT(\(feature == .hasEL2 ? "HAS_EL2" : "HAS_EL2_E2H0"))", errno: ENOSYS,
                    hint: "this harness was built with kernel headers that lack the feature; rebuild with newer linux-libc-dev")
            }
            words[Int(bit / 32)] |= 1 << (bit % 32)
        }
        let r = ckvm_arm_vcpu_init(fileDescriptor, target, words, UInt32(words.count))
        if r < 0 {
            let e = Glibc.errno
            var hint: String? = nil
            if e == EINVAL && features.contains(.hasEL2) {
                hint = "boot the host with kvm-arm.mode=nested (Linux ≥ 6.16 on an Armv8.4+ CPU with FEAT_NV2); KVM_CAP_ARM_EL2 must be 1"
            }
            throw KVMError(operation: "KVM_ARM_VCPU_INIT(\(features.names.joined(separator: "|")))", errno: e, hint: hint)
        }
    }

    /// KVM_GET_ONE_REG of a 64-bit register id.
    public func getOneReg(id: UInt64, name: String) throws(KVMError) -> UInt64 {
        guard id != 0 else { throw .notArm64Host("KVM_GET_ONE_REG(\(name))") }
        var value: UInt64 = 0
        var reg = kvm_one_reg()
        reg.id = id
        let r = withUnsafeMutablePointer(to: &value) { vp in
            reg.addr = UInt64(UInt(bitPattern: vp))
            // SAFETY: reg.addr points at the 8-byte `value`, alive for this closure; the id
            // encodes KVM_REG_SIZE_U64 (every id this layer builds), so the kernel writes 8 bytes.
            return withUnsafeMutablePointer(to: &reg) { ckvm_ioctl_ptr(fileDescriptor, ckvm_KVM_GET_ONE_REG, $0) }
        }
        if r < 0 { throw .lastError("KVM_GET_ONE_REG(\(name))") }
        return value
    }

    /// KVM_SET_ONE_REG of a 64-bit register id.
    public func setOneReg(id: UInt64, name: String, value: UInt64) throws(KVMError) {
        guard id != 0 else { throw .notArm64Host("KVM_SET_ONE_REG(\(name))") }
        var v = value
        var reg = kvm_one_reg()
        reg.id = id
        let r = withUnsafeMutablePointer(to: &v) { vp in
            reg.addr = UInt64(UInt(bitPattern: vp))
            // SAFETY: as in getOneReg; the kernel reads 8 bytes from `v`.
            return withUnsafeMutablePointer(to: &reg) { ckvm_ioctl_ptr(fileDescriptor, ckvm_KVM_SET_ONE_REG, $0) }
        }
        if r < 0 { throw .lastError("KVM_SET_ONE_REG(\(name))") }
    }

    public func get(_ register: SystemRegister) throws(KVMError) -> UInt64 {
        try getOneReg(id: register.kvmRegisterID, name: register.name)
    }

    public func set(_ register: SystemRegister, _ value: UInt64) throws(KVMError) {
        try setOneReg(id: register.kvmRegisterID, name: register.name, value: value)
    }

    public func get(_ register: CoreRegister) throws(KVMError) -> UInt64 {
        try getOneReg(id: register.kvmRegisterID, name: register.description)
    }

    public func set(_ register: CoreRegister, _ value: UInt64) throws(KVMError) {
        try setOneReg(id: register.kvmRegisterID, name: register.description, value: value)
    }

    /// KVM_GET_REG_LIST: every ONE_REG id this vCPU has (call after KVM_ARM_VCPU_INIT on arm64).
    public func registerList() throws(KVMError) -> [UInt64] {
        // First call with n = 0: the kernel answers E2BIG and stores the needed count.
        let header = Int(ckvm_kvm_reg_list_header_size)
        var count: UInt64 = 0
        for _ in 0..<4 {
            let bytes = header + Int(count) * 8
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 16), alignment: 8)
            defer { buffer.deallocate() }
            // SAFETY: struct kvm_reg_list is { __u64 n; __u64 reg[]; }: n at offset 0, the
            // array at `header`; the buffer holds `count` entries and n says so.
            buffer.storeBytes(of: count, as: UInt64.self)
            let r = ckvm_ioctl_ptr(fileDescriptor, ckvm_KVM_GET_REG_LIST, buffer)
            let e = Glibc.errno
            let n = buffer.load(as: UInt64.self)
            if r == 0 {
                return (0..<Int(min(n, count))).map { buffer.load(fromByteOffset: header + 8 * $0, as: UInt64.self) }
            }
            guard e == E2BIG, n > count, n < 1 << 20 else { throw KVMError(operation: "KVM_GET_REG_LIST", errno: e) }
            count = n
        }
        throw KVMError(operation: "KVM_GET_REG_LIST", errno: E2BIG, hint: "the register count kept changing")
    }
}
