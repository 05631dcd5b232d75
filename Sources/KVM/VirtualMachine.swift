import AArch64
import CKVM
import Glibc

/// Flags of a memslot (struct kvm_userspace_memory_region.flags).
public struct MemoryRegionFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// KVM_MEM_LOG_DIRTY_PAGES: KVM tracks writes; read them with `dirtyLog(slot:pages:)`.
    public static let logDirtyPages = MemoryRegionFlags(rawValue: ckvm_KVM_MEM_LOG_DIRTY_PAGES)
    /// KVM_MEM_READONLY: guest writes exit to user space as MMIO.
    public static let readOnly = MemoryRegionFlags(rawValue: ckvm_KVM_MEM_READONLY)
}

/// A VM file descriptor (from KVM_CREATE_VM). Closed exactly once.
public struct VirtualMachine: ~Copyable {
    /// -1 once `closeNow()` ran (every later ioctl then fails with EBADF).
    public private(set) var fileDescriptor: Int32
    /// KVM_GET_VCPU_MMAP_SIZE of the system this VM came from.
    public let vcpuMmapSize: Int

    init(fileDescriptor: Int32, vcpuMmapSize: Int) {
        self.fileDescriptor = fileDescriptor
        self.vcpuMmapSize = vcpuMmapSize
    }

    /// Takes ownership of an already open fd (tests use this to exercise bad fds).
    public init(adoptingFileDescriptor fd: Int32, vcpuMmapSize: Int) {
        self.init(fileDescriptor: fd, vcpuMmapSize: vcpuMmapSize)
    }

    deinit { if fileDescriptor >= 0 { closeFD(fileDescriptor) } }

    public consuming func close() {
        let fd = fileDescriptor
        discard self
        if fd >= 0 { closeFD(fd) }
    }

    /// Closes the VM fd while the value lives on: KVM keeps the VM until its vCPU and device
    /// fds are closed too (each holds a reference), so this is how a VMM lets the VM die
    /// "under" its vCPUs.
    public mutating func closeNow() {
        guard fileDescriptor >= 0 else { return }
        closeFD(fileDescriptor)
        fileDescriptor = -1
    }

    /// KVM_CHECK_EXTENSION on the VM fd (answers for this VM, e.g. its IPA size).
    public func checkExtension(_ capability: KVMCapability) throws(KVMError) -> Int {
        let r = ckvm_ioctl_val(fileDescriptor, ckvm_KVM_CHECK_EXTENSION, UInt(capability.rawValue))
        if r < 0 { throw .lastError("KVM_CHECK_EXTENSION(\(capability.name)) on the VM") }
        return Int(r)
    }

    /// KVM_SET_USER_MEMORY_REGION: back `size` bytes of guest-physical space at `guestAddress`
    /// with host memory at `hostAddress` (size 0 deletes the slot).
    ///
    /// The caller keeps `hostAddress ..< hostAddress + size` mapped for as long as the slot
    /// exists (or the VM lives): KVM reads and writes it on the guest's behalf.
    public func setUserMemoryRegion(
        slot: UInt32, guestAddress: PhysicalAddress, size: UInt64,
        hostAddress: UnsafeMutableRawPointer?, flags: MemoryRegionFlags = []
    ) throws(KVMError) {
        var region = kvm_userspace_memory_region()
        region.slot = slot
        region.flags = flags.rawValue
        region.guest_phys_addr = guestAddress.rawValue
        region.memory_size = size
        region.userspace_addr = UInt64(UInt(bitPattern: hostAddress))
        // SAFETY: `region` is a live, correctly typed struct for the duration of the call; the
        // kernel copies it. The memory it names is the caller's responsibility (see above).
        let r = withUnsafeMutablePointer(to: &region) { ckvm_ioctl_ptr(fileDescriptor, ckvm_KVM_SET_USER_MEMORY_REGION, $0) }
        if r < 0 { throw .lastError("KVM_SET_USER_MEMORY_REGION") }
    }

    /// KVM_GET_DIRTY_LOG for a slot created with `.logDirtyPages`: one bit per page of the slot
    /// (bit i of word i/64 = page i), pages written since the last call. Reading clears it.
    public func dirtyLog(slot: UInt32, pages: Int) throws(KVMError) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: max(1, (pages + 63) / 64))
        // SAFETY: the kernel writes ceil(pages/64) 64-bit words (the slot's page count rounded
        // up to a long), which is exactly the buffer's size for the slot's real page count.
        let r = words.withUnsafeMutableBytes { ckvm_get_dirty_log(fileDescriptor, slot, $0.baseAddress) }
        if r < 0 { throw .lastError("KVM_GET_DIRTY_LOG") }
        return words
    }

    /// KVM_CREATE_VCPU and map its kvm_run area (KVM_GET_VCPU_MMAP_SIZE bytes).
    public func createVCPU(id: Int) throws(KVMError) -> VCPU {
        let fd = ckvm_ioctl_val(fileDescriptor, ckvm_KVM_CREATE_VCPU, UInt(id))
        if fd < 0 { throw .lastError("KVM_CREATE_VCPU") }
        // SAFETY: mapping the vCPU fd at offset 0 with the size KVM reported is the documented
        // way to reach kvm_run (api.rst, KVM_GET_VCPU_MMAP_SIZE); the mapping is released in
        // VCPU's deinit/close, before its fd is closed.
        let area = mmap(nil, vcpuMmapSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        if area == MAP_FAILED || area == nil {
            let e = Glibc.errno
            closeFD(fd)
            throw KVMError(operation: "mmap(kvm_run, \(vcpuMmapSize) bytes)", errno: e)
        }
        return VCPU(fileDescriptor: fd, id: id, runArea: area!, runAreaSize: vcpuMmapSize)
    }

    /// KVM_CREATE_DEVICE (e.g. the vGICv3, `type` = KVM_DEV_TYPE_ARM_VGIC_V3).
    public func createDevice(type: UInt32, name: String) throws(KVMError) -> KVMDevice {
        var request = kvm_create_device()
        request.type = type
        // SAFETY: `request` is a live kvm_create_device; the kernel fills `fd`.
        let r = withUnsafeMutablePointer(to: &request) { ckvm_ioctl_ptr(fileDescriptor, ckvm_KVM_CREATE_DEVICE, $0) }
        if r < 0 { throw .lastError("KVM_CREATE_DEVICE(\(name))") }
        return KVMDevice(fileDescriptor: Int32(request.fd), name: name)
    }

    /// KVM_ARM_PREFERRED_TARGET: the target to pass to KVM_ARM_VCPU_INIT on this host.
    public func armPreferredTarget() throws(KVMError) -> UInt32 {
        guard kvmHasARM64 else { throw .notArm64Host("KVM_ARM_PREFERRED_TARGET") }
        var target: UInt32 = 0
        if ckvm_arm_preferred_target(fileDescriptor, &target) < 0 { throw .lastError("KVM_ARM_PREFERRED_TARGET") }
        return target
    }
}

/// A device fd (KVM_CREATE_DEVICE), e.g. the in-kernel vGICv3. Closed exactly once.
public struct KVMDevice: ~Copyable {
    public let fileDescriptor: Int32
    public let name: String

    deinit { closeFD(fileDescriptor) }

    /// Closes the fd now (ending the value's lifetime runs deinit, which closes it once).
    public consuming func close() {}

    /// KVM_HAS_DEVICE_ATTR.
    public func hasAttribute(group: UInt32, attribute: UInt64) -> Bool {
        var attr = kvm_device_attr()
        attr.group = group
        attr.attr = attribute
        // SAFETY: `attr` is live for the call; with addr = 0 the kernel reads only the struct.
        return withUnsafeMutablePointer(to: &attr) { ckvm_ioctl_ptr(fileDescriptor, ckvm_KVM_HAS_DEVICE_ATTR, $0) } == 0
    }

    /// KVM_SET_DEVICE_ATTR with a 64-bit value (addresses, counts).
    public func setAttribute(group: UInt32, attribute: UInt64, value: UInt64, what: String) throws(KVMError) {
        var v = value
        var attr = kvm_device_attr()
        attr.group = group
        attr.attr = attribute
        let r = withUnsafeMutablePointer(to: &v) { vp in
            attr.addr = UInt64(UInt(bitPattern: vp))
            // SAFETY: `attr.addr` points at `v`, alive for the whole closure; the kernel reads
            // at most 8 bytes there (the attribute's documented size, api.rst devices/arm-vgic-v3).
            return withUnsafeMutablePointer(to: &attr) { ckvm_ioctl_ptr(fileDescriptor, ckvm_KVM_SET_DEVICE_ATTR, $0) }
        }
        if r < 0 { throw .lastError("KVM_SET_DEVICE_ATTR(\(name): \(what))") }
    }

    /// KVM_SET_DEVICE_ATTR for a control attribute that carries no data (addr = 0).
    public func setControl(group: UInt32, attribute: UInt64, what: String) throws(KVMError) {
        var attr = kvm_device_attr()
        attr.group = group
        attr.attr = attribute
        // SAFETY: `attr` is live for the call; addr = 0, nothing else is read.
        let r = withUnsafeMutablePointer(to: &attr) { ckvm_ioctl_ptr(fileDescriptor, ckvm_KVM_SET_DEVICE_ATTR, $0) }
        if r < 0 { throw .lastError("KVM_SET_DEVICE_ATTR(\(name): \(what))") }
    }

    /// KVM_GET_DEVICE_ATTR of a 32- or 64-bit attribute (read into a zeroed 64-bit word).
    public func getAttribute(group: UInt32, attribute: UInt64, what: String) throws(KVMError) -> UInt64 {
        var v: UInt64 = 0
        var attr = kvm_device_attr()
        attr.group = group
        attr.attr = attribute
        let r = withUnsafeMutablePointer(to: &v) { vp in
            attr.addr = UInt64(UInt(bitPattern: vp))
            // SAFETY: `attr.addr` points at the 8-byte `v`, alive for the closure.
            return withUnsafeMutablePointer(to: &attr) { ckvm_ioctl_ptr(fileDescriptor, ckvm_KVM_GET_DEVICE_ATTR, $0) }
        }
        if r < 0 { throw .lastError("KVM_GET_DEVICE_ATTR(\(name): \(what))") }
        return v
    }
}
