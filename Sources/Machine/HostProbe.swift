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
    /// ID_AA64MMFR0_EL1 of an HAS_EL2 vCPU, raw.
    public var idAA64MMFR0: UInt64?
    /// Its stage-2 granule fields, decoded (TGranX_2 = 0b0000 resolved through TGranX).
    public var stage2Granules: Granules?
    /// Its PARange, decoded to bits.
    public var paRangeBits: Int?
    /// Everything the nested tests need is here.
    public var canRunNestedTests: Bool
    public var problems: [Problem]
    /// Things that do not block the tests but limit them (e.g. no E2H0 variants).
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case architecture, kernelRelease, isARM64Host, kvmPath, kvmPresent, kvmAccessible, kvmGroup, apiVersion
        case capArmEL2, armEL2Available, capArmEL2E2H0, maxIPABits, vgicV3Creatable, el2VCPUCreated
        case idAA64MMFR0, stage2Granules, paRangeBits, canRunNestedTests, problems, notes
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
        try c.encode(idAA64MMFR0.map { "0x" + String($0, radix: 16) }, forKey: .idAA64MMFR0)
        try c.encode(stage2Granules, forKey: .stage2Granules)
        try c.encode(paRangeBits, forKey: .paRangeBits)
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
        idAA64MMFR0 = try c.decodeIfPresent(String.self, forKey: .idAA64MMFR0).flatMap { UInt64($0.dropFirst(2), radix: 16) }
        stage2Granules = try c.decodeIfPresent(Granules.self, forKey: .stage2Granules)
        paRangeBits = try c.decodeIfPresent(Int.self, forKey: .paRangeBits)
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

    public static func run(kvmPath: String = KVMSystem.defaultPath) -> HostReport {
        var u = utsname()
        uname(&u)
        let machine = withUnsafeBytes(of: &u.machine) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let release = withUnsafeBytes(of: &u.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let isARM64 = machine == "aarch64" || machine == "arm64"

        var r = HostReport(architecture: machine, kernelRelease: release, isARM64Host: isARM64, kvmPath: kvmPath)
        func problem(_ item: String, _ remedy: String) { r.problems.append(.init(item: item, remedy: remedy)) }

        if !isARM64 {
            problem("architecture", "this is an \(machine) host, the nested tests need arm64 KVM; run them in the emulated arm64 host: \(emulatedHostCommand)")
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
                problem("/dev/kvm", isARM64 ? "no \(kvmPath): use a kernel with KVM (CONFIG_KVM) on a host that boots at EL2" : "no \(kvmPath) here; \(emulatedHostCommand)")
            } else {
                problem("/dev/kvm access", error.hint ?? error.description)
            }
            return finish(r)
        }
        r.kvmAccessible = true

        do {
            let v = try kvm.apiVersion()
            r.apiVersion = v
            if v != kvmHeaderAPIVersion { problem("KVM API version", "KVM_GET_API_VERSION returned \(v), expected \(kvmHeaderAPIVersion): this KVM is incompatible") }
        } catch { problem("KVM API version", error.description) }

        guard isARM64 && kvmHasARM64 else { return finish(r) }

        if let cap = KVMCapability.armEL2 {
            r.capArmEL2 = try? kvm.checkExtension(cap)
            r.armEL2Available = (r.capArmEL2 ?? 0) > 0
            if !r.armEL2Available { problem("KVM_CAP_ARM_EL2", nestedRemedy) }
        } else {
            problem("KVM_CAP_ARM_EL2", "this harness was built with kernel headers older than Linux 6.16 (no KVM_CAP_ARM_EL2); rebuild with newer linux-libc-dev")
        }
        if let cap = KVMCapability.armEL2E2H0 {
            r.capArmEL2E2H0 = try? kvm.checkExtension(cap)
            if (r.capArmEL2E2H0 ?? 0) == 0 { r.notes.append("KVM_CAP_ARM_EL2_E2H0 is 0: the non-VHE (HAS_EL2_E2H0) variants will be skipped") }
        }
        r.maxIPABits = try? kvm.checkExtension(.armVMIPASize)
        if r.maxIPABits == 0 { r.notes.append("KVM_CAP_ARM_VM_IPA_SIZE is 0: VMs are limited to 40-bit IPAs") }

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

        // A real HAS_EL2 vCPU (with its vGIC), then its ID_AA64MMFR0_EL1.
        if r.armEL2Available && r.vgicV3Creatable == true {
            do {
                let map = try MemoryMap(MemoryMap.gicRegions(vcpus: 1) + [
                    MemoryRegion(name: "ram", base: PhysicalAddress(0x4000_0000), size: 0x10_0000, kind: .ram)
                ])
                let machine = try Machine(MachineConfiguration(map: map, mode: .el2(e2h0: false), kvmPath: kvmPath))
                r.el2VCPUCreated = true
                let mmfr0 = IDAA64MMFR0(rawValue: try machine.get(SystemRegister.ID_AA64MMFR0_EL1))
                r.idAA64MMFR0 = mmfr0.rawValue
                r.paRangeBits = mmfr0.physicalAddressBits
                r.stage2Granules = .init(tgran4_2: mmfr0.stage2(.k4).rawValue, tgran16_2: mmfr0.stage2(.k16).rawValue,
                                         tgran64_2: mmfr0.stage2(.k64).rawValue)
                if !Granule.allCases.contains(where: { mmfr0.stage2($0).isSupported }) {
                    problem("stage-2 granules", "the vCPU's ID_AA64MMFR0_EL1 advertises no stage-2 granule")
                }
                for g in Granule.allCases where !mmfr0.stage2(g).isSupported {
                    r.notes.append("stage-2 \(g) granule not advertised: its variants will be skipped")
                }
            } catch {
                if r.el2VCPUCreated == nil { r.el2VCPUCreated = false }
                problem("EL2 vCPU", "\(error)")
            }
        }
        return finish(r)
    }

    static func finish(_ report: HostReport) -> HostReport {
        var r = report
        r.canRunNestedTests = r.problems.isEmpty && r.isARM64Host && r.kvmAccessible && r.armEL2Available
            && r.vgicV3Creatable == true && r.el2VCPUCreated == true
        return r
    }
}

enum CKVMConstants {
    static var vgicV3: UInt32 { ckvm_KVM_DEV_TYPE_ARM_VGIC_V3 }
}
