import AArch64
import CKVM
import Glibc
import KVM
import Stage2

/// What `harness doctor` finds out about this host: can it run the nested tests, and if
/// not, what to do. Every probe is real (open /dev/kvm, KVM_CHECK_EXTENSION, create a VM, a
/// vGICv3 and an EL2 vCPU, read its ID_AA64MMFR0_EL1); nothing is assumed.
public struct HostReport: Sendable, Codable, Equatable {
    public struct Problem: Sendable, Codable, Equatable {
        /// Short key of what is missing, e.g. "KVM_CAP_ARM_EL2".
        public let item: String
        /// One line: what to do.
        public let remedy: String
    }

    public struct Granules: Sendable, Codable, Equatable {
        public var tgran4_2: String
        public var tgran16_2: String
        public var tgran64_2: String
    }

    /// `uname -m`.
    public var architecture: String
    /// `uname -r`.
    public var kernelRelease: String
    public var isARM64Host: Bool
    public var kvmPath: String
    public var kvmPresent: Bool
    public var kvmAccessible: Bool
    /// Group owning /dev/kvm (to join when it is not accessible).
    public var kvmGroup: String?
    /// KVM_GET_API_VERSION (12 expected).
    public var apiVersion: Int?
    /// KVM_CHECK_EXTENSION(KVM_CAP_ARM_EL2) on /dev/kvm; nil when it cannot be asked.
    public var capArmEL2: Int?
    /// Convenience for scripts: capArmEL2 > 0.
    public var armEL2Available: Bool
    public var capArmEL2E2H0: Int?
    /// KVM_CAP_ARM_VM_IPA_SIZE: the maximum IPA bits for a VM (0 = only the default 40).
    public var maxIPABits: Int?
    public var vgicV3Creatable: Bool?
    public var el2VCPUCreated: Bool?
    /// An HAS_EL2 | HAS_EL2_E2H0 vCPU could be created (tried when KVM_CAP_ARM_EL2_E2H0 > 0).
    public var el2E2H0VCPUCreated: Bool?
    /// ID_AA64MMFR0_EL1 of an HAS_EL2 vCPU, raw.
    public var idAA64MMFR0: UInt64?
    /// Its stage-2 granule fields, decoded (TGranX_2 = 0b0000 resolved through TGranX).
    public var stage2Granules: Granules?
    /// Its PARange, decoded to bits.
    public var paRangeBits: Int?
    /// A 4-instruction guest ran at vEL2 and made the expected MMIO exit, its registers read
    /// back through ONE_REG, and the watchdog stopped its final spin (see `EL2SmokeGuest`).
    public var el2GuestRuns: Bool?
    /// What the smoke guest showed (or why it failed).
    public var el2GuestDetail: String?
    /// Everything the nested tests need is here.
    public var canRunNestedTests: Bool
    public var problems: [Problem]
    /// Things that do not block the tests but limit them (e.g. no E2H0 variants).
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case architecture, kernelRelease, isARM64Host, kvmPath, kvmPresent, kvmAccessible, kvmGroup, apiVersion
        case capArmEL2, armEL2Available, capArmEL2E2H0, maxIPABits, vgicV3Creatable, el2VCPUCreated, el2E2H0VCPUCreated
        case idAA64MMFR0, stage2Granules, paRangeBits, el2GuestRuns, el2GuestDetail, canRunNestedTests, problems, notes
    }

    /// Every key is always present (null when unknown), so scripts can rely on the shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(kernelRelease, forKey: .kernelRelease)
        try c.encode(isARM64Host, forKey: .isARM64Host)
        try c.encode(kvmPath, forKey: .kvmPath)
        try c.encode(kvmPresent, forKey: .kvmPresent)
        try c.encode(kvmAccessible, forKey: .kvmAccessible)
        try c.encode(kvmGroup, forKey: .kvmGroup)
        try c.encode(apiVersion, forKey: .apiVersion)
        try c.encode(capArmEL2, forKey: .capArmEL2)
        try c.encode(armEL2Available, forKey: .armEL2Available)
        try c.encode(capArmEL2E2H0, forKey: .capArmEL2E2H0)
        try c.encode(maxIPABits, forKey: .maxIPABits)
        try c.encode(vgicV3Creatable, forKey: .vgicV3Creatable)
        try c.encode(el2VCPUCreated, forKey: .el2VCPUCreated)
        try c.encode(el2E2H0VCPUCreated, forKey: .el2E2H0VCPUCreated)
        try c.encode(idAA64MMFR0.map { "0x" + String($0, radix: 16) }, forKey: .idAA64MMFR0)
        try c.encode(stage2Granules, forKey: .stage2Granules)
        try c.encode(paRangeBits, forKey: .paRangeBits)
        try c.encode(el2GuestRuns, forKey: .el2GuestRuns)
        try c.encode(el2GuestDetail, forKey: .el2GuestDetail)
        try c.encode(canRunNestedTests, forKey: .canRunNestedTests)
        try c.encode(problems, forKey: .problems)
        try c.encode(notes, forKey: .notes)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try c.decode(String.self, forKey: .architecture)
        kernelRelease = try c.decode(String.self, forKey: .kernelRelease)
        isARM64Host = try c.decode(Bool.self, forKey: .isARM64Host)
        kvmPath = try c.decode(String.self, forKey: .kvmPath)
        kvmPresent = try c.decode(Bool.self, forKey: .kvmPresent)
        kvmAccessible = try c.decode(Bool.self, forKey: .kvmAccessible)
        kvmGroup = try c.decodeIfPresent(String.self, forKey: .kvmGroup)
        apiVersion = try c.decodeIfPresent(Int.self, forKey: .apiVersion)
        capArmEL2 = try c.decodeIfPresent(Int.self, forKey: .capArmEL2)
        armEL2Available = try c.decode(Bool.self, forKey: .armEL2Available)
        capArmEL2E2H0 = try c.decodeIfPresent(Int.self, forKey: .capArmEL2E2H0)
        maxIPABits = try c.decodeIfPresent(Int.self, forKey: .maxIPABits)
        vgicV3Creatable = try c.decodeIfPresent(Bool.self, forKey: .vgicV3Creatable)
        el2VCPUCreated = try c.decodeIfPresent(Bool.self, forKey: .el2VCPUCreated)
        el2E2H0VCPUCreated = try c.decodeIfPresent(Bool.self, forKey: .el2E2H0VCPUCreated)
        idAA64MMFR0 = try c.decodeIfPresent(String.self, forKey: .idAA64MMFR0).flatMap { UInt64($0.dropFirst(2), radix: 16) }
        stage2Granules = try c.decodeIfPresent(Granules.self, forKey: .stage2Granules)
        paRangeBits = try c.decodeIfPresent(Int.self, forKey: .paRangeBits)
        el2GuestRuns = try c.decodeIfPresent(Bool.self, forKey: .el2GuestRuns)
        el2GuestDetail = try c.decodeIfPresent(String.self, forKey: .el2GuestDetail)
        canRunNestedTests = try c.decode(Bool.self, forKey: .canRunNestedTests)
        problems = try c.decode([Problem].self, forKey: .problems)
        notes = try c.decode([String].self, forKey: .notes)
    }

    init(architecture: String, kernelRelease: String, isARM64Host: Bool, kvmPath: String) {
        self.architecture = architecture
        self.kernelRelease = kernelRelease
        self.isARM64Host = isARM64Host
        self.kvmPath = kvmPath
        kvmPresent = false
        kvmAccessible = false
        armEL2Available = false
        canRunNestedTests = false
        problems = []
        notes = []
    }
}

public enum HostProbe {
    /// The command that runs the harness in the emulated arm64 KVM host from an x86_64 machine.
    public static let emulatedHostCommand =
        "scripts/harness-anywhere doctor (sets up the emulated host, cross-builds, then runs scripts/emu-host run -- harness doctor)"
    public static let nestedRemedy = "boot the host with kvm-arm.mode=nested (Linux ≥ 6.16 on an Armv8.4+ CPU with FEAT_NV2)"

    /// `uname -m` and `uname -r`, nil when uname fails.
    public static func uname() -> (machine: String, release: String)? {
        var u = utsname()
        guard Glibc.uname(&u) == 0 else { return nil }
        // SAFETY: uname filled both fixed-size arrays with NUL-terminated strings; the bytes
        // are read within each array's own size.
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return (machine, release)
    }

    /// `uname -s -r -m` ("Linux 6.1.0-28-amd64 x86_64"), nil when uname fails.
    public static func unameDescription() -> String? {
        var u = utsname()
        guard Glibc.uname(&u) == 0 else { return nil }
        // SAFETY: as in uname(): each NUL-terminated field is read within its own array.
        let system = withUnsafeBytes(of: &u.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "\(system) \(release) \(machine)"
    }

    public static func run(kvmPath: String = KVMSystem.defaultPath) -> HostReport {
        let (machine, release) = uname() ?? ("", "")
        let isARM64 = machine == "aarch64" || machine == "arm64"

        var r = HostReport(architecture: machine, kernelRelease: release, isARM64Host: isARM64, kvmPath: kvmPath)
        func problem(_ item: String, _ remedy: String) { r.problems.append(.init(item: item, remedy: remedy)) }

        if !isARM64 {
            problem(
                "architecture",
                "this is an \(machine) host, the nested tests need arm64 KVM; run them in the emulated arm64 host: \(emulatedHostCommand)")
        } else if !kvmHasARM64 {
            problem("build", "this harness was built without the arm64 KVM uAPI; build it for aarch64")
        }

        var st = stat()
        r.kvmPresent = stat(kvmPath, &st) == 0
        if r.kvmPresent, let g = getgrgid(st.st_gid), let name = g.pointee.gr_name { r.kvmGroup = String(cString: name) }
        let kvm: KVMSystem
        do {
            kvm = try KVMSystem(path: kvmPath)
        } catch {
            if !r.kvmPresent {
                problem(
                    kvmPath,
                    isARM64
                        ? "no \(kvmPath): use a kernel with KVM (CONFIG_KVM) on a host that boots at EL2"
                        : "no \(kvmPath) here; \(emulatedHostCommand)")
            } else {
                problem("\(kvmPath) access", error.hint ?? error.description)
            }
            return finish(r)
        }
        r.kvmAccessible = true

        do {
            let v = try kvm.apiVersion()
            r.apiVersion = v
            if v != kvmHeaderAPIVersion {
                problem("KVM API version", "KVM_GET_API_VERSION returned \(v), expected \(kvmHeaderAPIVersion): this KVM is incompatible")
            }
        } catch { problem("KVM API version", error.description) }

        guard isARM64 && kvmHasARM64 else { return finish(r) }

        if let cap = KVMCapability.armEL2 {
            do {
                r.capArmEL2 = try kvm.checkExtension(cap)
                r.armEL2Available = (r.capArmEL2 ?? 0) > 0
                if !r.armEL2Available { problem("KVM_CAP_ARM_EL2", nestedRemedy) }
            } catch { problem("KVM_CAP_ARM_EL2", "KVM_CHECK_EXTENSION failed: \(error)") }
        } else {
            problem(
                "KVM_CAP_ARM_EL2",
                "this harness was built with kernel headers older than Linux 6.16 (no KVM_CAP_ARM_EL2); rebuild with newer linux-libc-dev")
        }
        if let cap = KVMCapability.armEL2E2H0 {
            do {
                r.capArmEL2E2H0 = try kvm.checkExtension(cap)
                if r.capArmEL2E2H0 == 0 {
                    r.notes.append("KVM_CAP_ARM_EL2_E2H0 is 0: the non-VHE (HAS_EL2_E2H0) variants will be skipped")
                }
            } catch { problem("KVM_CAP_ARM_EL2_E2H0", "KVM_CHECK_EXTENSION failed: \(error)") }
        }
        do {
            r.maxIPABits = try kvm.checkExtension(.armVMIPASize)
            if r.maxIPABits == 0 { r.notes.append("KVM_CAP_ARM_VM_IPA_SIZE is 0: VMs are limited to 40-bit IPAs") }
        } catch { problem("KVM_CAP_ARM_VM_IPA_SIZE", "KVM_CHECK_EXTENSION failed: \(error)") }

        // vGICv3: create the device in a scratch VM.
        do {
            let vm = try kvm.createVM()
            let gic = try vm.createDevice(type: CKVMConstants.vgicV3, name: "vGICv3")
            gic.close()
            r.vgicV3Creatable = true
        } catch {
            r.vgicV3Creatable = false
            problem("vGICv3", "\(error.description); the host needs a GICv3 (with QEMU: -M virt,gic-version=3)")
        }

        // A real HAS_EL2 vCPU (with its vGIC), then its ID_AA64MMFR0_EL1. Tried even when
        // KVM_CAP_ARM_EL2 is 0, so the report shows the kernel's own answer (EINVAL + hint).
        if r.vgicV3Creatable == true {
            do {
                let map = try MemoryMap(
                    MemoryMap.gicRegions(vcpus: 1) + [
                        MemoryRegion(name: "ram", base: PhysicalAddress(0x4000_0000), size: 0x10_0000, kind: .ram)
                    ])
                let machine = try Machine(MachineConfiguration(map: map, mode: .el2(e2h0: false), kvmPath: kvmPath))
                r.el2VCPUCreated = true
                let mmfr0 = IDAA64MMFR0(rawValue: try machine.get(SystemRegister.ID_AA64MMFR0_EL1))
                r.idAA64MMFR0 = mmfr0.rawValue
                r.paRangeBits = mmfr0.physicalAddressBits
                r.stage2Granules = .init(
                    tgran4_2: mmfr0.stage2(.k4).rawValue, tgran16_2: mmfr0.stage2(.k16).rawValue,
                    tgran64_2: mmfr0.stage2(.k64).rawValue)
                if !Granule.allCases.contains(where: { mmfr0.stage2($0).isSupported }) {
                    problem("stage-2 granules", "the vCPU's ID_AA64MMFR0_EL1 advertises no stage-2 granule")
                }
                for g in Granule.allCases where !mmfr0.stage2(g).isSupported {
                    r.notes.append("stage-2 \(g) granule not advertised: its variants will be skipped")
                }
                switch EL2SmokeGuest.run(on: machine, entry: PhysicalAddress(0x4000_0000)) {
                case let .success(detail):
                    r.el2GuestRuns = true
                    r.el2GuestDetail = detail
                case let .failure(failure):
                    r.el2GuestRuns = false
                    r.el2GuestDetail = failure.description
                    problem("vEL2 guest", failure.description)
                }
            } catch {
                if r.el2VCPUCreated == nil { r.el2VCPUCreated = false }
                problem("EL2 vCPU", "\(error)")
            }
        }
        // The non-VHE variant: only informative (its tests are skipped without it).
        if r.el2VCPUCreated == true && (r.capArmEL2E2H0 ?? 0) > 0 {
            do {
                let map = try MemoryMap(
                    MemoryMap.gicRegions(vcpus: 1) + [
                        MemoryRegion(name: "ram", base: PhysicalAddress(0x4000_0000), size: 0x10_0000, kind: .ram)
                    ])
                _ = try Machine(MachineConfiguration(map: map, mode: .el2(e2h0: true), kvmPath: kvmPath))
                r.el2E2H0VCPUCreated = true
            } catch {
                r.el2E2H0VCPUCreated = false
                r.notes.append("KVM_CAP_ARM_EL2_E2H0 is 1 but an HAS_EL2_E2H0 vCPU failed: \(error)")
            }
        }
        return finish(r)
    }

    static func finish(_ report: HostReport) -> HostReport {
        var r = report
        r.canRunNestedTests =
            r.problems.isEmpty && r.isARM64Host && r.kvmAccessible && r.armEL2Available
            && r.vgicV3Creatable == true && r.el2VCPUCreated == true && r.el2GuestRuns == true
        return r
    }
}

enum CKVMConstants {
    static var vgicV3: UInt32 { ckvm_KVM_DEV_TYPE_ARM_VGIC_V3 }
}

/// The smallest real check that nested tests can run: four instructions at vEL2.
///
///     0: d2a14001  movz x1, #0x0a00, lsl #16   // x1 = 0x0a000000 (unbacked)
///     4: 52800b42  movz w2, #0x5a
///     8: b9000022  str  w2, [x1]               // → KVM_EXIT_MMIO, write, 4 bytes, 0x5a
///    12: 14000000  b    .                      // spins until the watchdog stops it
///
/// Encodings (Arm ARM C6.2): MOVZ = sf 10 100101 hw imm16 Rd (x1, hw=1: 0xd2a14001);
/// MOVZ 32-bit w2 #0x5a: 0x52800b42; STR (immediate, unsigned offset) 32-bit = 0xb9000000 |
/// Rn<<5 | Rt: 0xb9000022; B with imm26 = 0: 0x14000000. Cross-checked with LLVM's assembler.
public enum EL2SmokeGuest {
    public static let code: [UInt32] = [0xd2a1_4001, 0x5280_0b42, 0xb900_0022, 0x1400_0000]
    public static let mmioAddress = PhysicalAddress(0x0a00_0000)
    public static let marker: UInt64 = 0x6e76_6861_726e_6573  // "nvharnes"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Loads the code at `entry` (inside a backed region) on vCPU 0, enters it at EL2h with
    /// x3 = marker, and checks the MMIO exit, registers and the watchdog.
    public static func run(on machine: Machine, entry: PhysicalAddress) -> Result<String, Failure> {
        func fail(_ s: String) -> Result<String, Failure> { .failure(Failure(description: s)) }
        do {
            var bytes: [UInt8] = []
            for w in code { withUnsafeBytes(of: w.littleEndian) { bytes += $0 } }
            try machine.memory.write(bytes: bytes, at: entry)
            try machine.setEntry(vcpu: 0, pc: entry, arguments: [0, 0, 0, marker])
            let exit = try machine.run(vcpu: 0, timeout: .seconds(20))
            let expected = VCPUExit.mmio(address: mmioAddress, length: 4, isWrite: true, data: 0x5a)
            guard exit == expected else { return fail("expected \(expected), got \(exit)") }
            let x1 = try machine.get(CoreRegister.x(1))
            let x3 = try machine.get(CoreRegister.x(3))
            let pc = try machine.get(CoreRegister.pc)
            let pstate = try machine.get(CoreRegister.pstate)
            guard x1 == mmioAddress.rawValue else {
                return fail("x1 = 0x\(String(x1, radix: 16)), expected 0x\(String(mmioAddress.rawValue, radix: 16))")
            }
            guard x3 == marker else {
                return fail("x3 = 0x\(String(x3, radix: 16)), expected the entry argument 0x\(String(marker, radix: 16))")
            }
            guard pc == entry.rawValue + 8 else {
                return fail(
                    "PC = 0x\(String(pc, radix: 16)) at the MMIO exit, expected the str at 0x\(String(entry.rawValue + 8, radix: 16))")
            }
            // PSTATE.M[3:0] = 0b1001: EL2h (Arm ARM C5.2.19, SPSR_EL2.M).
            guard pstate & 0xF == 0b1001 else { return fail("PSTATE = 0x\(String(pstate, radix: 16)): not EL2h") }
            let hcr = try machine.get(SystemRegister.HCR_EL2)
            // Our ONE_REG ids must be ids the kernel lists for this vCPU (KVM_GET_REG_LIST).
            let listed = Set(try machine.registerList(vcpu: 0))
            let needed: [SystemRegister] = [
                .HCR_EL2, .VTTBR_EL2, .VTCR_EL2, .ESR_EL2, .FAR_EL2, .HPFAR_EL2,
                .ELR_EL2, .SPSR_EL2, .VBAR_EL2, .SP_EL2, .SCTLR_EL2,
            ]
            let missing = needed.filter { !listed.contains($0.kvmRegisterID) }
            guard missing.isEmpty else {
                return fail("KVM_GET_REG_LIST (\(listed.count) ids) lacks \(missing.map(\.name).joined(separator: ", "))")
            }
            let core: [CoreRegister] = [.pc, .pstate, .x(0), .x(30), .sp, .spEL1, .elrEL1]
            let missingCore = core.filter { !listed.contains($0.kvmRegisterID) }
            guard missingCore.isEmpty else {
                return fail("KVM_GET_REG_LIST lacks core registers \(missingCore.map(\.description).joined(separator: ", "))")
            }
            // The str completes on the next KVM_RUN; then `b .` spins until the watchdog fires.
            if let problem = spinEndsInTimeout(machine) { return fail(problem) }
            let spinPC = try machine.get(CoreRegister.pc)
            guard spinPC == entry.rawValue + 12 else {
                return fail(
                    "after the watchdog PC = 0x\(String(spinPC, radix: 16)), expected the b . at 0x\(String(entry.rawValue + 12, radix: 16))"
                )
            }
            return .success(
                "MMIO write exit at \(mmioAddress) (4 bytes, 0x5a); x1, x3, PC 0x\(String(pc, radix: 16)), PSTATE 0x\(String(pstate, radix: 16)) (EL2h), HCR_EL2 0x\(String(hcr, radix: 16)) read via ONE_REG; KVM_GET_REG_LIST (\(listed.count) ids) has all \(needed.count) EL2 and \(core.count) core ids we build; the watchdog stopped the final spin at 0x\(String(spinPC, radix: 16))"
            )
        } catch {
            return fail("\(error)")
        }
    }

    /// nil when running the vCPU ends in the watchdog's timeout, else what happened instead.
    static func spinEndsInTimeout(_ machine: Machine) -> String? {
        let outcome: Result<VCPUExit, MachineError>
        do { outcome = .success(try machine.run(vcpu: 0, timeout: .milliseconds(500))) } catch { outcome = .failure(error) }
        switch outcome {
        case let .success(exit): return "the spinning guest exited: \(exit)"
        case .failure(.timeout): return nil
        case let .failure(error): return error.description
        }
    }
}
