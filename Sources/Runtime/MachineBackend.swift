import AArch64
import KVM
import Machine

#if canImport(Glibc)
    import Glibc
#endif

/// Where a run loop's time goes (benchmarks): inside `Machine.run` (KVM_RUN and the run
/// loop's own work) and on the host between one return and the next call.
public struct RunTiming: Sendable {
    public var runs = 0
    public var inRun: UInt64 = 0
    public var onHost: UInt64 = 0
    public init() {}
}

@inline(__always) func monotonicNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
}

/// The session's backend over a real KVM `Machine` (arm64 with KVM_CAP_ARM_EL2).
public final class MachineBackend: GuestBackend {
    public let machine: Machine
    public let vcpu: Int
    /// The whole test must finish by this instant (watchdog); set per test.
    public var deadline: ContinuousClock.Instant {
        didSet { meter.value.deadline = Machine.Deadline(deadline, budget: timeout) }
    }
    public let timeout: Duration
    /// Set to `RunTiming()` to measure; nil costs nothing.
    public var timing: RunTiming? {
        get { meter.value.on ? meter.value.timing : nil }
        set {
            meter.value.on = newValue != nil
            meter.value.timing = newValue ?? RunTiming()
        }
    }
    /// The timing state in a cell allocated once, so the measuring run loop does plain
    /// loads and stores (as the C baseline's) rather than exclusivity-checked property accesses.
    struct Meter {
        var on = false
        var timing = RunTiming()
        var lastReturn: UInt64 = 0
        /// `deadline` as the run loop uses it (converted once per deadline, not per exit).
        var deadline = Machine.Deadline(ContinuousClock.now)
    }
    let meter = PlainCell(Meter())
    /// Another loop drove the vCPU since the last run: don't count that gap as host time.
    public func startTimingGap() { meter.value.lastReturn = 0 }

    /// The session layout as a Machine memory map: all of RAM in one memslot (the layout's
    /// sub-regions are the session's business), the doorbell page, the vGIC frames.
    public static func memoryMap(for layout: SessionLayout, vcpus: Int = 1) throws(MemoryMapError) -> MemoryMap {
        let r = layout.ramBase.rawValue
        func region(_ name: String, _ from: UInt64, _ to: UInt64, _ kind: RegionKind) -> MemoryRegion {
            MemoryRegion(name: name, base: PhysicalAddress(from), size: to - from, kind: kind)
        }
        return try MemoryMap(
            [
                region("ram", r, r + layout.ramSize, .ram),
                MemoryRegion(name: "doorbell", base: layout.doorbell, size: 0x1000, kind: .mailbox),
            ] + MemoryMap.gicRegions(vcpus: vcpus))
    }

    /// `ipaBits`: the VM's IPA size (KVM_VM_TYPE_ARM_IPA_SIZE); nil = KVM's default (40).
    public init(layout: SessionLayout, e2h0: Bool = false, timeout: Duration, ipaBits: Int? = nil) throws {
        let map: MemoryMap
        do { map = try Self.memoryMap(for: layout) } catch { throw SessionError.layout(error.description) }
        machine = try Machine(MachineConfiguration(map: map, vcpuCount: 1, mode: .el2(e2h0: e2h0), ipaBits: ipaBits))
        vcpu = 0
        self.timeout = timeout
        deadline = ContinuousClock.now.advanced(by: timeout)
        meter.value.deadline = Machine.Deadline(deadline, budget: timeout)
    }

    /// A VM with `vcpuCount` EL2 vCPUs; this backend drives vCPU 0 (`init(sharing:vcpu:)`
    /// gives a backend for another one). Added for the two-vCPU test.
    public init(layout: SessionLayout, e2h0: Bool = false, timeout: Duration, vcpuCount: Int) throws {
        let map: MemoryMap
        do { map = try Self.memoryMap(for: layout, vcpus: vcpuCount) } catch { throw SessionError.layout(error.description) }
        machine = try Machine(MachineConfiguration(map: map, vcpuCount: vcpuCount, mode: .el2(e2h0: e2h0)))
        vcpu = 0
        self.timeout = timeout
        deadline = ContinuousClock.now.advanced(by: timeout)
    }

    /// Another vCPU of `other`'s VM (same memory); run it from the same thread, one vCPU at a time.
    public init(sharing other: MachineBackend, vcpu: Int) throws {
        guard vcpu >= 0, vcpu < other.machine.vcpuCount else {
            throw SessionError.unexpected("vCPU \(vcpu) does not exist (the VM has \(other.machine.vcpuCount))")
        }
        machine = other.machine
        self.vcpu = vcpu
        timeout = other.timeout
        deadline = other.deadline
    }

    public func start(pc: PhysicalAddress, x0: UInt64) throws {
        try machine.setEntry(vcpu: vcpu, pc: pc, arguments: [x0])
        deadline = ContinuousClock.now.advanced(by: timeout)
    }

    public func read(_ address: PhysicalAddress, count: Int) throws -> [UInt8] {
        try machine.memory.readBytes(at: address, count: count)
    }
    public func write(_ bytes: [UInt8], at address: PhysicalAddress) throws {
        try machine.memory.write(bytes: bytes, at: address)
    }
    public func read64(_ address: PhysicalAddress) throws -> UInt64 {
        try machine.memory.read(UInt64.self, at: address)
    }
    public func write64(_ value: UInt64, at address: PhysicalAddress) throws {
        try machine.memory.write(value, at: address)
    }

    public func run() throws -> BackendExit {
        let m = meter
        guard m.value.on else { return try runOnce() }
        let start = monotonicNanoseconds()
        if m.value.lastReturn != 0 { m.value.timing.onHost &+= start &- m.value.lastReturn }
        let exit: BackendExit
        do { exit = try runOnce() } catch {
            stopClock(m, start)
            throw error
        }
        stopClock(m, start)
        return exit
    }

    @inline(__always)
    func stopClock(_ m: PlainCell<Meter>, _ start: UInt64) {
        let end = monotonicNanoseconds()
        m.value.timing.inRun &+= end &- start
        m.value.timing.runs &+= 1
        m.value.lastReturn = end
    }

    @inline(__always)
    func runOnce() throws -> BackendExit {
        let exit: VCPUExit
        do { exit = try machine.run(vcpu: vcpu, deadline: meter.value.deadline) } catch {
            throw Self.backendError(error, timeout: timeout)
        }
        if case let .mmio(address, length, isWrite, data) = exit {
            return .mmio(address: address, length: length, isWrite: isWrite, data: data)
        }
        return .other(exit.description)
    }

    @inline(never)
    static func backendError(_ error: MachineError, timeout: Duration) -> Error {
        switch error {
        case let .timeout(_, _, pc, last):
            var lines = last.map(\.description)
            if let pc { lines.append("PC when interrupted: 0x" + String(pc, radix: 16)) }
            // The test's whole budget, not what was left of it at the last KVM_RUN.
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            return BackendError.timeout(seconds: seconds, lastExits: lines)
        case let .stopped(signal, _):
            return BackendError.interrupted(signal: signal)
        default:
            return error
        }
    }

    public func completeMMIORead(_ value: UInt64) throws {
        try machine.completeMMIORead(vcpu: vcpu, value: value)
    }

    public func trapRegisters() throws -> (esr: UInt64, far: UInt64, hpfar: UInt64)? {
        (try machine.get(.ESR_EL2, vcpu: vcpu), try machine.get(.FAR_EL2, vcpu: vcpu), try machine.get(.HPFAR_EL2, vcpu: vcpu))
    }

    public var recentExits: [String] { machine.lastExits(vcpu: vcpu).map(\.description) }

    public func window(_ address: PhysicalAddress, count: Int) -> MappedWindow? {
        machine.memory.window(at: address, count: count)
    }
}

// MARK: memslots added while the VM runs, dirty log, PC (issue-6 stage1/dirty-log/two-level tests)

extension MachineBackend {
    /// The host page size: memslot and dirty-log granularity.
    public var hostPageSize: UInt64 { machine.hostPageSize }

    /// Backs `[base, base + size)` with fresh host memory through a new memslot (optionally
    /// with KVM_MEM_LOG_DIRTY_PAGES). The vCPU must be stopped in an exit.
    public func addRAM(name: String, base: PhysicalAddress, size: UInt64, logDirtyPages: Bool = false) throws {
        try machine.addRegion(MemoryRegion(name: name, base: base, size: size, kind: .ram, logDirtyPages: logDirtyPages))
    }

    /// Replaces the host memory behind `[pa, pa + size)` with new pages (the old are unmapped).
    public func replaceBacking(at pa: PhysicalAddress, size: UInt64, copy: Bool = false) throws {
        try machine.replaceBacking(at: pa, size: size, copy: copy)
    }

    /// Turns KVM_MEM_LOG_DIRTY_PAGES on/off for an existing region's memslot (e.g. "ram").
    public func setDirtyLogging(_ enabled: Bool, region: String) throws {
        try machine.setDirtyLogging(enabled, region: region)
    }

    /// KVM_GET_DIRTY_LOG of a region created with `logDirtyPages` (reading clears it).
    public func dirtyPages(region: String) throws -> [PhysicalAddress] {
        try machine.dirtyPages(region: region)
    }

    /// After a KVM_EXIT_MMIO: completes the pending access without running the guest
    /// (KVM_RUN with immediate_exit), then moves the PC back by `rewind` bytes so the
    /// instruction runs again. Returns (PC after completion, PC now, PSTATE).
    public func completeMMIOAndRewind(by rewind: UInt64) throws -> (completedPC: UInt64, pc: UInt64, pstate: UInt64) {
        try machine.completePendingExit(vcpu: vcpu)
        let pc = try machine.get(.pc, vcpu: vcpu)
        let pstate = try machine.get(.pstate, vcpu: vcpu)
        try machine.set(.pc, pc &- rewind, vcpu: vcpu)
        return (pc, pc &- rewind, pstate)
    }

    /// A system register of the vCPU as KVM exposes it (e.g. an ID register).
    public func systemRegister(_ register: SystemRegister) throws -> UInt64 {
        try machine.get(register, vcpu: vcpu)
    }

    public func idRegisters() throws -> (mmfr0: UInt64, mmfr1: UInt64, mmfr2: UInt64)? {
        (try systemRegister(.ID_AA64MMFR0_EL1), try systemRegister(.ID_AA64MMFR1_EL1), try systemRegister(.ID_AA64MMFR2_EL1))
    }

    /// KVM_SET_ONE_REG of a system register (ID registers: only before the vCPU first runs).
    public func setSystemRegister(_ register: SystemRegister, _ value: UInt64) throws {
        try machine.set(register, value, vcpu: vcpu)
    }
}

extension MachineBackend {
    /// A core register of the vCPU (the context that is running: the nested guest's while it runs).
    public func register(_ r: CoreRegister) throws -> UInt64 {
        try machine.get(r, vcpu: vcpu)
    }
}
