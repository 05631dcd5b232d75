import AArch64
import CKVM
import Glibc
import KVM

/// How the Machine's vCPUs start.
public enum VCPUMode: Sendable, Equatable {
    /// arm64: KVM_ARM_VCPU_HAS_EL2 (+ HAS_EL2_E2H0 when `e2h0`) and PSCI 0.2; the vCPU starts
    /// at vEL2. Needs the in-kernel vGICv3 (the map must have .gicDistributor and
    /// .gicRedistributor regions).
    case el2(e2h0: Bool)
    /// The architecture's reset state: on arm64 KVM_ARM_VCPU_INIT with PSCI 0.2 only (EL1); on
    /// other architectures no initialisation at all (x86 starts in real mode at 0xFFFFFFF0),
    /// which the tests use to exercise the run loop and watchdog on an x86 KVM.
    case resetState
}

public struct MachineConfiguration: Sendable {
    public var map: MemoryMap
    public var vcpuCount: Int
    public var mode: VCPUMode
    /// IPA size of the VM (KVM_VM_TYPE_ARM_IPA_SIZE); nil = KVM's default (40 bits).
    public var ipaBits: Int?
    /// Exits remembered per vCPU for timeout reports.
    public var historyLength: Int
    public var kvmPath: String

    public init(
        map: MemoryMap, vcpuCount: Int = 1, mode: VCPUMode = .el2(e2h0: false), ipaBits: Int? = nil,
        historyLength: Int = 32, kvmPath: String = KVMSystem.defaultPath
    ) {
        self.map = map
        self.vcpuCount = vcpuCount
        self.mode = mode
        self.ipaBits = ipaBits
        self.historyLength = historyLength
        self.kvmPath = kvmPath
    }
}

/// PSTATE values for entry (SPSR format, Arm ARM C5.2.19 "SPSR_EL2": M[3:0] mode,
/// bits [9:6] D, A, I, F).
public enum PState {
    /// EL2h (M[3:0] = 0b1001) with D, A, I, F masked (0x3c0): 0x3c9.
    public static let el2hMasked: UInt64 = 0x3c0 | 0b1001
    /// EL1h (M[3:0] = 0b0101) with D, A, I, F masked: 0x3c5.
    public static let el1hMasked: UInt64 = 0x3c0 | 0b0101
}

/// One exit as the run loop stores it: plain values only (no allocation, no reference
/// counting); turned into an `ExitRecord` when someone asks.
struct ExitSlot {
    var sequence: Int
    var exit: VCPUExit
    /// CLOCK_MONOTONIC nanoseconds when the exit was recorded.
    var monotonic: UInt64
}

final class VCPUSlot {
    let vcpu: VCPU
    /// The last exits: a fixed ring of `capacity` plain records, allocated once.
    let ring: UnsafeMutablePointer<ExitSlot>
    let capacity: Int
    /// The run loop's per-exit state, behind a pointer allocated once: plain loads and stores
    /// on the hot path (no dynamic exclusivity checks on class properties).
    let hot: UnsafeMutablePointer<Hot>
    struct Hot {
        var exitCount = 0
        /// The watchdog deadline, CLOCK_MONOTONIC ns (0 until the first run).
        var monotonicDeadline: UInt64 = 0
    }
    // (Only plain values in `Hot`: a resilient standard-library type such as
    // ContinuousClock.Instant would make every field access go through type metadata.)
    /// The last `ContinuousClock.Instant` deadline, for `run(vcpu:deadline:)` (kept so that
    /// one deadline maps to one CLOCK_MONOTONIC value and the watchdog timer is armed once
    /// per deadline, not once per exit).
    var instantDeadline: ContinuousClock.Instant?
    /// The budget the deadline gave when first seen (for the timeout report).
    var budget: Duration = .zero

    var exitCount: Int { hot.pointee.exitCount }

    init(vcpu: consuming VCPU, historyLength: Int) {
        self.vcpu = vcpu
        capacity = max(historyLength, 1)
        ring = .allocate(capacity: capacity)
        hot = .allocate(capacity: 1)
        hot.initialize(to: Hot())
    }

    deinit {
        ring.deinitialize(count: min(hot.pointee.exitCount, capacity))
        ring.deallocate()
        hot.deinitialize(count: 1)
        hot.deallocate()
    }

    @inline(__always) func record(_ exit: VCPUExit) {
        let n = hot.pointee.exitCount &+ 1
        hot.pointee.exitCount = n
        let slot = ExitSlot(sequence: n, exit: exit, monotonic: ckvm_monotonic_ns())
        let i = (n &- 1) % capacity
        if n <= capacity { (ring + i).initialize(to: slot) } else { ring[i] = slot }
    }

    /// Oldest first.
    func history(vcpu: Int, createdMonotonic: UInt64) -> [ExitRecord] {
        let count = exitCount
        let n = min(count, capacity)
        return (0..<n).map { k in
            let e = ring[(count - n + k) % capacity]
            let ns = e.monotonic &- createdMonotonic
            return ExitRecord(
                sequence: e.sequence, vcpu: vcpu, exit: e.exit,
                at: .nanoseconds(Int64(truncatingIfNeeded: ns)))
        }
    }
}

/// A KVM virtual machine for the harness: guest memory laid out as a `MemoryMap`, one memslot
/// per backed region, the in-kernel vGICv3 and EL2 vCPUs (arm64), and a run loop with a
/// watchdog.
///
/// Teardown: the VM, its vCPUs, the vGIC and (once nothing else holds it) guest memory are
/// released when the Machine is deinitialised — on normal return, on a thrown error, and after
/// SIGINT/SIGTERM (the first one interrupts KVM_RUN and `run` throws `.stopped`; a second one
/// kills the process the default way). Use a vCPU from one thread at a time; different vCPUs
/// may run on different threads at once (`VCPUThreads`).
public final class Machine {
    public let configuration: MachineConfiguration
    public var map: MemoryMap { configuration.map }
    // Declaration order is destruction order: the vCPUs, the vGIC and the VM go first, so the
    // VM is destroyed before guest memory is unmapped (unmapping while the VM lives makes KVM
    // invalidate its stage-2 — and with NV its shadow stage-2 — mappings page range by page range).
    let slots: [VCPUSlot]
    let gic: KVMDevice?
    var vm: VirtualMachine
    public let memory: GuestMemory
    /// CLOCK_MONOTONIC nanoseconds at creation (exit times in the history are relative to it).
    let createdMonotonic = VCPU.monotonicNanoseconds()
    /// The memslot number of each backed region, by name.
    public private(set) var memslots: [String: UInt32]
    /// Regions added after creation with `addRegion` (not in `map`).
    public private(set) var addedRegions: [MemoryRegion] = []
    /// The host page size (memslot granularity, dirty-log bit granularity).
    public let hostPageSize: UInt64

    public var vcpuCount: Int { slots.count }

    public init(_ configuration: MachineConfiguration) throws(MachineError) {
        self.configuration = configuration
        let map = configuration.map
        guard configuration.vcpuCount >= 1 else { throw .configuration("vcpuCount must be at least 1") }
        do {
            try VCPU.installSignalHandlers()
        } catch { throw .kvm(error) }

        hostPageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        do { try map.checkBackedAlignment(hostPageSize) } catch { throw .memoryMap(error) }

        let kvm: KVMSystem
        do { kvm = try KVMSystem(path: configuration.kvmPath) } catch {
            throw error.errno == ENOSYS ? .hostUnsuitable(.notArm64(error)) : .hostUnsuitable(.noKVM(error))
        }
        let vm: VirtualMachine
        do { vm = try kvm.createVM(ipaBits: configuration.ipaBits) } catch { throw .kvm(error) }

        do { memory = try GuestMemory(map: map) } catch { throw .memory(error) }

        // Memslots: one per backed region, in map order.
        var memslots: [String: UInt32] = [:]
        for (i, backing) in memory.backings.enumerated() {
            let region = backing.region
            do {
                try vm.setUserMemoryRegion(
                    slot: UInt32(i), guestAddress: region.base, size: region.size,
                    hostAddress: backing.host, flags: region.logDirtyPages ? .logDirtyPages : [])
            } catch {
                throw .kvm(KVMError(operation: error.operation + " for region '\(region.name)'", errno: error.errno, hint: error.hint))
            }
            memslots[region.name] = UInt32(i)
        }
        self.memslots = memslots

        var gic: KVMDevice? = nil
        var features: VCPUFeatures = []
        var target: UInt32 = 0
        switch configuration.mode {
        case let .el2(e2h0):
            guard kvmHasARM64 else { throw .hostUnsuitable(.notArm64(.notArm64Host("KVM_ARM_VCPU_INIT(HAS_EL2)"))) }
            features = e2h0 ? [.psci02, .hasEL2, .hasEL2E2H0] : [.psci02, .hasEL2]
            gic = try Machine.createVGIC(vm: vm, map: map, vcpus: configuration.vcpuCount)
        case .resetState:
            features = kvmHasARM64 ? [.psci02] : []
        }
        if kvmHasARM64 {
            do { target = try vm.armPreferredTarget() } catch { throw .kvm(error) }
        }

        var slots: [VCPUSlot] = []
        for id in 0..<configuration.vcpuCount {
            let vcpu: VCPU
            do { vcpu = try vm.createVCPU(id: id) } catch { throw .kvm(error) }
            if kvmHasARM64 {
                do { try vcpu.armInit(target: target, features: features) } catch {
                    throw HostUnsuitability.vcpuInit(error, features: features, kvm: kvm).map { .hostUnsuitable($0) } ?? .kvm(error)
                }
            }
            slots.append(VCPUSlot(vcpu: vcpu, historyLength: configuration.historyLength))
        }

        // KVM_DEV_ARM_VGIC_CTRL_INIT after every vCPU exists and is initialised (arm-vgic-v3.rst).
        if let g = gic.take() {
            do {
                try g.setControl(
                    group: ckvm_KVM_DEV_ARM_VGIC_GRP_CTRL, attribute: ckvm_KVM_DEV_ARM_VGIC_CTRL_INIT,
                    what: "KVM_DEV_ARM_VGIC_CTRL_INIT")
            } catch { throw .kvm(error) }
            gic = consume g
        }
        self.gic = gic
        self.slots = slots
        self.vm = vm
        _ = consume kvm  // the system fd is not needed once the VM exists
    }

    /// KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_V3) and its distributor/redistributor addresses
    /// from the map (api.rst / devices/arm-vgic-v3.rst).
    static func createVGIC(vm: borrowing VirtualMachine, map: MemoryMap, vcpus: Int) throws(MachineError) -> KVMDevice {
        guard let dist = map.regions(of: .gicDistributor).first,
            let redist = map.regions(of: .gicRedistributor).first
        else {
            throw .configuration(
                "an EL2 vCPU needs the in-kernel vGICv3: the memory map must have a .gicDistributor and a .gicRedistributor region (see MemoryMap.gicRegions(vcpus:))"
            )
        }
        guard dist.size >= ckvm_KVM_VGIC_V3_DIST_SIZE else {
            throw .configuration(
                "region '\(dist.name)' must be at least KVM_VGIC_V3_DIST_SIZE (0x\(String(ckvm_KVM_VGIC_V3_DIST_SIZE, radix: 16))) bytes")
        }
        let needed = ckvm_KVM_VGIC_V3_REDIST_SIZE * UInt64(vcpus)
        guard redist.size >= needed else {
            throw .configuration(
                "region '\(redist.name)' must hold \(vcpus) redistributors of KVM_VGIC_V3_REDIST_SIZE (0x\(String(needed, radix: 16)) bytes)"
            )
        }
        let gic: KVMDevice
        do { gic = try vm.createDevice(type: ckvm_KVM_DEV_TYPE_ARM_VGIC_V3, name: "vGICv3") } catch {
            // ENODEV: the device type is unknown or unsupported here; any other errno is ours.
            throw error.errno == ENODEV ? .hostUnsuitable(.noVGICv3(error)) : .kvm(error)
        }
        do {
            try gic.setAttribute(
                group: ckvm_KVM_DEV_ARM_VGIC_GRP_ADDR, attribute: ckvm_KVM_VGIC_V3_ADDR_TYPE_DIST,
                value: dist.base.rawValue, what: "KVM_VGIC_V3_ADDR_TYPE_DIST")
            try gic.setAttribute(
                group: ckvm_KVM_DEV_ARM_VGIC_GRP_ADDR, attribute: ckvm_KVM_VGIC_V3_ADDR_TYPE_REDIST,
                value: redist.base.rawValue, what: "KVM_VGIC_V3_ADDR_TYPE_REDIST")
            return gic
        } catch { throw .kvm(error) }
    }

    @inline(__always)
    func slot(_ index: Int) throws(MachineError) -> VCPUSlot {
        guard slots.indices.contains(index) else { throw Self.noSuchVCPU(index, slots.count) }
        return slots[index]
    }

    @inline(never)
    static func noSuchVCPU(_ index: Int, _ count: Int) -> MachineError {
        .configuration("no vCPU \(index) (the machine has \(count))")
    }

    // MARK: entry and registers

    /// Sets where vCPU `vcpu` starts: PC, PSTATE (default EL2h with DAIF masked, 0x3c9) and
    /// x0…x3 (or fewer) from `arguments`.
    public func setEntry(
        vcpu: Int = 0, pc: PhysicalAddress, arguments: [UInt64] = [], pstate: UInt64 = PState.el2hMasked
    ) throws(MachineError) {
        guard arguments.count <= 4 else { throw .configuration("at most 4 entry arguments (x0..x3)") }
        let s = try slot(vcpu)
        do {
            try s.vcpu.set(.pstate, pstate)
            try s.vcpu.set(.pc, pc.rawValue)
            for (i, v) in arguments.enumerated() { try s.vcpu.set(.x(i), v) }
        } catch { throw .kvm(error) }
    }

    public func get(_ register: SystemRegister, vcpu: Int = 0) throws(MachineError) -> UInt64 {
        let s = try slot(vcpu)
        do { return try s.vcpu.get(register) } catch { throw .kvm(error) }
    }

    public func set(_ register: SystemRegister, _ value: UInt64, vcpu: Int = 0) throws(MachineError) {
        let s = try slot(vcpu)
        do { try s.vcpu.set(register, value) } catch { throw .kvm(error) }
    }

    public func get(_ register: CoreRegister, vcpu: Int = 0) throws(MachineError) -> UInt64 {
        let s = try slot(vcpu)
        do { return try s.vcpu.get(register) } catch { throw .kvm(error) }
    }

    public func set(_ register: CoreRegister, _ value: UInt64, vcpu: Int = 0) throws(MachineError) {
        let s = try slot(vcpu)
        do { try s.vcpu.set(register, value) } catch { throw .kvm(error) }
    }

    /// KVM_GET_REG_LIST of a vCPU.
    public func registerList(vcpu: Int = 0) throws(MachineError) -> [UInt64] {
        let s = try slot(vcpu)
        do { return try s.vcpu.registerList() } catch { throw .kvm(error) }
    }

    /// Direct access to a vCPU handle for anything the Machine does not wrap.
    public func withVCPU<R>(_ index: Int = 0, _ body: (borrowing VCPU) throws -> R) throws -> R {
        try body(try slot(index).vcpu)
    }

    // MARK: running

    /// Runs vCPU `vcpu` until its next exit and returns it (also recorded in `lastExits`).
    ///
    /// A watchdog interrupts KVM_RUN after `timeout` (a timer signal to this thread plus
    /// kvm_run->immediate_exit) and this throws `.timeout` with the last exits; SIGINT/SIGTERM
    /// make it throw `.stopped`. A stray signal's EINTR is retried within the same deadline.
    public func run(vcpu: Int = 0, timeout: Duration) throws(MachineError) -> VCPUExit {
        try run(vcpu: vcpu, deadline: ContinuousClock.now.advanced(by: timeout), timeout: timeout)
    }

    public func run(vcpu: Int = 0, deadline: ContinuousClock.Instant) throws(MachineError) -> VCPUExit {
        try run(vcpu: vcpu, deadline: deadline, timeout: nil)
    }

    /// A run-loop deadline as plain values: the CLOCK_MONOTONIC time (ns) the watchdog fires
    /// at, and the budget it stands for (for the timeout report). `ContinuousClock.Instant` is
    /// a resilient standard-library type, so comparing and copying one costs calls into the
    /// runtime on every exit; a loop that runs many exits under one deadline converts it once.
    public struct Deadline: Sendable, Equatable {
        public var monotonicNanoseconds: UInt64
        public var budget: Duration
        /// `instant` on the watchdog's clock (reads the clocks once).
        public init(_ instant: ContinuousClock.Instant, budget: Duration? = nil) {
            let remaining = instant - ContinuousClock.now
            let (secs, atto) = remaining.components
            let ns = secs <= 0 && atto <= 0 ? 0 : UInt64(max(secs, 0)) &* 1_000_000_000 &+ UInt64(max(atto, 0) / 1_000_000_000)
            monotonicNanoseconds = VCPU.monotonicNanoseconds() &+ max(ns, 1)
            self.budget = budget ?? remaining
        }
    }

    /// Runs vCPU `vcpu` until its next exit under `deadline` (see `run(vcpu:timeout:)`).
    @inline(__always)
    public func run(vcpu index: Int = 0, deadline: Deadline) throws(MachineError) -> VCPUExit {
        guard slots.indices.contains(index) else { throw Self.noSuchVCPU(index, slots.count) }
        // `slots` (a let of this object) keeps the slot alive for the call: borrow it without
        // the retain/release pair a copied reference would cost on every exit.
        let result = Unmanaged.passUnretained(slots[index])._withUnsafeGuaranteedRef { s in
            Result { () throws(MachineError) -> VCPUExit in
                if s.hot.pointee.monotonicDeadline != deadline.monotonicNanoseconds { adopt(deadline, in: s) }
                return try runLoop(s, index)
            }
        }
        return try result.get()
    }

    @inline(never)
    func adopt(_ deadline: Deadline, in s: VCPUSlot) {
        s.hot.pointee.monotonicDeadline = deadline.monotonicNanoseconds
        s.instantDeadline = nil
        s.budget = deadline.budget
    }

    /// The run loop. Per exit it makes one KVM_RUN (through `ckvm_vcpu_run`, which keeps the
    /// watchdog timer armed for the whole deadline and reads no clock unless the timer fired),
    /// one clock read for the exit history and no allocation; the clock reads and the timer
    /// syscall happen once per new deadline.
    @inline(__always)
    func run(vcpu index: Int, deadline: ContinuousClock.Instant, timeout: Duration?) throws(MachineError) -> VCPUExit {
        let s = try slot(index)
        if s.instantDeadline != deadline { newDeadline(deadline, timeout: timeout, in: s) }
        return try runLoop(s, index)
    }

    @inline(__always)
    func runLoop(_ s: VCPUSlot, _ index: Int) throws(MachineError) -> VCPUExit {
        let monotonicDeadline = s.hot.pointee.monotonicDeadline
        while true {
            let exit: VCPUExit
            do { exit = try s.vcpu.run(monotonicDeadline: monotonicDeadline) } catch { throw .kvm(error) }
            switch exit {
            case .interrupted(.otherSignal):
                // A stray signal: retried within the same deadline (ckvm_vcpu_run reports the
                // watchdog and stop signals itself, and sees a deadline that passed meanwhile).
                continue
            case .interrupted(.watchdog):
                s.record(exit)
                throw .timeout(
                    vcpu: index, after: s.budget, pc: try? s.vcpu.get(.pc),
                    lastExits: s.history(vcpu: index, createdMonotonic: createdMonotonic))
            case let .interrupted(.stopSignal(signal)):
                s.record(exit)
                throw .stopped(signal: signal, lastExits: s.history(vcpu: index, createdMonotonic: createdMonotonic))
            default:
                s.record(exit)
                return exit
            }
        }
    }

    /// Maps a new deadline to CLOCK_MONOTONIC once (not per exit).
    @inline(never)
    func newDeadline(_ deadline: ContinuousClock.Instant, timeout: Duration?, in s: VCPUSlot) {
        let d = Deadline(deadline, budget: timeout)
        s.instantDeadline = deadline
        s.hot.pointee.monotonicDeadline = d.monotonicNanoseconds
        s.budget = d.budget
    }

    /// The last exits of a vCPU (oldest first), at most `configuration.historyLength`.
    public func lastExits(vcpu: Int = 0) -> [ExitRecord] {
        slots.indices.contains(vcpu) ? slots[vcpu].history(vcpu: vcpu, createdMonotonic: createdMonotonic) : []
    }

    /// Supplies the value a pending MMIO read returns (see `VCPU.completeMMIORead`).
    @discardableResult
    public func completeMMIORead(vcpu: Int = 0, value: UInt64) throws(MachineError) -> Bool {
        try slot(vcpu).vcpu.completeMMIORead(value: value)
    }

    // MARK: memory

    /// Backs one more region of guest-physical space while the VM exists: a fresh anonymous
    /// mapping and a new memslot (KVM_SET_USER_MEMORY_REGION, with KVM_MEM_LOG_DIRTY_PAGES
    /// when the region asks for it). Call it while no vCPU is in KVM_RUN. The region must be
    /// host-page aligned and overlap nothing in the map or added before. Returns the slot.
    @discardableResult
    public func addRegion(_ region: MemoryRegion) throws(MachineError) -> UInt32 {
        guard region.kind.isBacked else { throw .configuration("region '\(region.name)' is not a backed kind") }
        guard region.base.isAligned(to: hostPageSize), region.size % hostPageSize == 0 else {
            throw .memoryMap(.misaligned(region: region.name, alignment: hostPageSize))
        }
        if memslots[region.name] != nil || map.regions.contains(where: { $0.name == region.name }) {
            throw .memoryMap(.duplicateName(region.name))
        }
        if let other = (map.regions + addedRegions).first(where: { $0.base < region.end! && region.base < $0.end! }) {
            throw .memoryMap(.overlap(other, region))
        }
        let backing: GuestMemory.Backing
        do { backing = try memory.addRegion(region) } catch { throw .memory(error) }
        // Slot numbers follow the backings' order (the map's regions took 0..<n at creation).
        let slot = UInt32(memory.backings.count - 1)
        do {
            try vm.setUserMemoryRegion(
                slot: slot, guestAddress: region.base, size: region.size,
                hostAddress: backing.host, flags: region.logDirtyPages ? .logDirtyPages : [])
        } catch {
            throw .kvm(KVMError(operation: error.operation + " for added region '\(region.name)'", errno: error.errno, hint: error.hint))
        }
        memslots[region.name] = slot
        addedRegions.append(region)
        return slot
    }

    /// Regions whose memslot had KVM_MEM_LOG_DIRTY_PAGES turned on after creation.
    public private(set) var dirtyLoggingEnabled: Set<String> = []

    /// Turns dirty logging on or off for an existing backed region: KVM_SET_USER_MEMORY_REGION
    /// on the same slot, address, size and memory with only KVM_MEM_LOG_DIRTY_PAGES changed
    /// (the one flag change KVM allows on a live slot, api.rst). Call it while no vCPU runs.
    public func setDirtyLogging(_ enabled: Bool, region name: String) throws(MachineError) {
        guard let slot = memslots[name], let backing = memory.backings.first(where: { $0.region.name == name }) else {
            throw .memoryMap(.noSuchRegion(name))
        }
        let r = backing.region
        do {
            try vm.setUserMemoryRegion(
                slot: slot, guestAddress: r.base, size: r.size, hostAddress: backing.host,
                flags: enabled ? .logDirtyPages : [])
        } catch {
            throw .kvm(
                KVMError(
                    operation: error.operation + " (dirty logging \(enabled ? "on" : "off") for '\(name)')", errno: error.errno,
                    hint: error.hint))
        }
        if enabled { dirtyLoggingEnabled.insert(name) } else { dirtyLoggingEnabled.remove(name) }
    }

    /// Replaces the host memory behind `[pa, pa + size)` of a backed region with fresh
    /// anonymous memory on other physical pages (zero-filled, moved over the range with
    /// mremap, which unmaps the old memory: `GuestMemory.replace`). Call it while
    /// no vCPU runs. `pa` and `size` must be host-page aligned.
    public func replaceBacking(at pa: PhysicalAddress, size: UInt64, copy: Bool = false) throws(MachineError) {
        guard pa.isAligned(to: hostPageSize), size % hostPageSize == 0 else {
            throw .memoryMap(.misaligned(region: "replacement at \(pa)", alignment: hostPageSize))
        }
        do { try memory.replace(pa, size: size, hostPageSize: hostPageSize, copy: copy) } catch { throw .memory(error) }
    }

    /// Tears the VM down in the order a VMM may use when its vCPUs still exist: the VM fd is
    /// closed first, guest memory unmapped while KVM still holds the VM (through the vCPU and
    /// vGIC fds: its MMU notifiers run), and the VM itself goes when the Machine deinitialises
    /// (the vCPU fds close). Call it last; the Machine cannot run afterwards.
    public func destroyVMBeforeVCPUs() {
        vm.closeNow()
        memory.unmapAll()
    }

    /// Completes what the last exit of `vcpu` left pending (e.g. an MMIO access) without
    /// running the guest (see `VCPU.completePendingExit`).
    public func completePendingExit(vcpu: Int = 0) throws(MachineError) {
        let s = try slot(vcpu)
        do { try s.vcpu.completePendingExit() } catch { throw .kvm(error) }
    }

    /// The pages of a `.logDirtyPages` region written since the last call (KVM_GET_DIRTY_LOG).
    public func dirtyPages(region name: String) throws(MachineError) -> [PhysicalAddress] {
        let region: MemoryRegion
        if let added = addedRegions.first(where: { $0.name == name }) {
            region = added
        } else {
            do { region = try map.region(named: name) } catch { throw .memoryMap(error) }
        }
        guard region.logDirtyPages || dirtyLoggingEnabled.contains(name), let slot = memslots[name] else {
            throw .configuration("region '\(name)' was not created with logDirtyPages")
        }
        let pages = Int(region.size / hostPageSize)
        let words: [UInt64]
        do { words = try vm.dirtyLog(slot: slot, pages: pages) } catch { throw .kvm(error) }
        var result: [PhysicalAddress] = []
        for page in 0..<pages where words[page / 64] >> UInt64(page % 64) & 1 == 1 {
            result.append(region.base.advanced(by: UInt64(page) * hostPageSize))
        }
        return result
    }
}
