import AArch64
import CKVM
import Glibc
import KVM
import Testing

@Suite("KVM system, VM and device handles (real /dev/kvm)")
struct KVMSystemTests {
    @Test("the header says KVM_API_VERSION 12 (api.rst: 'the only valid value is 12')")
    func headerAPIVersion() {
        #expect(kvmHeaderAPIVersion == 12)
    }

    @Test("KVM_GET_API_VERSION on /dev/kvm returns KVM_API_VERSION", .enabled(if: kvmUsable, "no accessible /dev/kvm"))
    func apiVersion() throws {
        let lock = KVMTestLock()
        defer { lock.release() }
        let kvm = try KVMSystem()
        #expect(try kvm.apiVersion() == kvmHeaderAPIVersion)
    }

    @Test("capabilities every KVM since 2.6.x/4.11 has are reported present", .enabled(if: kvmUsable, "no accessible /dev/kvm"))
    func capabilities() throws {
        let lock = KVMTestLock()
        defer { lock.release() }
        let kvm = try KVMSystem()
        #expect(try kvm.checkExtension(.userMemory) > 0)
        #expect(try kvm.checkExtension(.immediateExit) > 0)
        #expect(try kvm.checkExtension(.nrMemslots) >= 32)
    }

    @Test("vCPU mmap size covers at least one page and is page-granular", .enabled(if: kvmUsable, "no accessible /dev/kvm"))
    func mmapSize() throws {
        let lock = KVMTestLock()
        defer { lock.release() }
        let kvm = try KVMSystem()
        let size = try kvm.vcpuMmapSize()
        let page = sysconf(Int32(_SC_PAGESIZE))
        #expect(size >= page)
        #expect(size % page == 0)
    }

    @Test("a VM with a memslot and a vCPU whose kvm_run is mapped", .enabled(if: kvmUsable, "no accessible /dev/kvm"))
    func vmMemslotVCPU() throws {
        let lock = KVMTestLock()
        defer { lock.release() }
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        #expect(try vm.checkExtension(.userMemory) > 0)
        let pages = HostPages(size: 0x10000)
        try vm.setUserMemoryRegion(slot: 0, guestAddress: PhysicalAddress(0x10_0000), size: 0x10000, hostAddress: pages.pointer)
        let vcpu = try vm.createVCPU(id: 0)
        #expect(vcpu.runAreaSize == vm.vcpuMmapSize)
        #expect(vcpu.id == 0)
    }

    @Test("an overlapping memslot error names the ioctl and EEXIST", .enabled(if: kvmUsable, "no accessible /dev/kvm"))
    func overlappingMemslot() throws {
        let lock = KVMTestLock()
        defer { lock.release() }
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        let pages = HostPages(size: 0x4000)
        try vm.setUserMemoryRegion(slot: 0, guestAddress: PhysicalAddress(0x20_0000), size: 0x4000, hostAddress: pages.pointer)
        do {
            try vm.setUserMemoryRegion(slot: 1, guestAddress: PhysicalAddress(0x20_1000), size: 0x1000, hostAddress: pages.pointer)
            Issue.record("overlapping memslot accepted")
        } catch {
            #expect(error.operation == "KVM_SET_USER_MEMORY_REGION")
            #expect(error.errno == EEXIST)
            #expect(error.description.hasPrefix("KVM_SET_USER_MEMORY_REGION failed: EEXIST"))
        }
    }

    @Test("a misaligned memslot is EINVAL with a hint about alignment", .enabled(if: kvmUsable, "no accessible /dev/kvm"))
    func misalignedMemslot() throws {
        let lock = KVMTestLock()
        defer { lock.release() }
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        let pages = HostPages(size: 0x2000)
        do {
            try vm.setUserMemoryRegion(slot: 0, guestAddress: PhysicalAddress(0x30_0800), size: 0x1000, hostAddress: pages.pointer)
            Issue.record("misaligned memslot accepted")
        } catch {
            #expect(error.errno == EINVAL)
            #expect(error.hint?.contains("aligned") == true)
        }
    }

    @Test("dirty logging: KVM_GET_DIRTY_LOG on a logging slot returns one bit per page", .enabled(if: kvmUsable, "no accessible /dev/kvm"))
    func dirtyLog() throws {
        let lock = KVMTestLock()
        defer { lock.release() }
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        let pages = HostPages(size: 0x10000)
        try vm.setUserMemoryRegion(
            slot: 0, guestAddress: PhysicalAddress(0x40_0000), size: 0x10000,
            hostAddress: pages.pointer, flags: .logDirtyPages)
        let bitmap = try vm.dirtyLog(slot: 0, pages: 16)
        #expect(bitmap == [0])  // no guest has run: nothing dirty
        // A slot without logging has no dirty bitmap: ENOENT (api.rst, KVM_GET_DIRTY_LOG).
        try vm.setUserMemoryRegion(slot: 1, guestAddress: PhysicalAddress(0x50_0000), size: 0x10000, hostAddress: pages.pointer)
        #expect(throws: KVMError.self) { _ = try vm.dirtyLog(slot: 1, pages: 16) }
    }

    @Test(
        "creating a vGICv3 on a non-arm64 KVM fails naming KVM_CREATE_DEVICE",
        .enabled(if: kvmUsable && !kvmHasARM64, "needs an x86 /dev/kvm"))
    func vgicOnX86() throws {
        let lock = KVMTestLock()
        defer { lock.release() }
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        do {
            _ = try vm.createDevice(type: ckvm_KVM_DEV_TYPE_ARM_VGIC_V3, name: "vGICv3")
            Issue.record("x86 KVM created a vGICv3")
        } catch {
            #expect(error.operation == "KVM_CREATE_DEVICE(vGICv3)")
            #expect(error.errno == ENODEV)
        }
    }

    @Test("arm64-only calls report 'not an arm64 host' elsewhere", .enabled(if: kvmUsable && !kvmHasARM64, "needs an x86 /dev/kvm"))
    func arm64OnlyCalls() throws {
        let lock = KVMTestLock()
        defer { lock.release() }
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        #expect(throws: KVMError.notArm64Host("KVM_ARM_PREFERRED_TARGET")) { _ = try vm.armPreferredTarget() }
        let vcpu = try vm.createVCPU(id: 0)
        #expect(throws: KVMError.notArm64Host("KVM_ARM_VCPU_INIT")) { try vcpu.armInit(target: 0, features: [.hasEL2]) }
        #expect(throws: KVMError.notArm64Host("KVM_GET_ONE_REG(ESR_EL2)")) { _ = try vcpu.get(SystemRegister.ESR_EL2) }
        #expect(throws: KVMError.notArm64Host("KVM_CREATE_VM(ipa size)")) { _ = try kvm.createVM(ipaBits: 44) }
        #expect(KVMCapability.armEL2 == nil || kvmHasARM64 || ckvm_has_KVM_CAP_ARM_EL2)
    }

    @Test("opening a missing device node names open() and says there is no KVM")
    func missingNode() {
        do {
            _ = try KVMSystem(path: "/nonexistent/kvm")
            Issue.record("opened a nonexistent path")
        } catch {
            #expect(error.operation == "open(/nonexistent/kvm)")
            #expect(error.errno == ENOENT)
            #expect(error.hint?.contains("no KVM") == true)
        }
    }
}

@Suite("bad file descriptors: every error names the ioctl")
struct BadFileDescriptorTests {
    @Test("a non-KVM fd (/dev/null) gives ENOTTY for KVM_GET_API_VERSION")
    func notKVM() throws {
        let fd = open("/dev/null", O_RDWR | O_CLOEXEC)
        try #require(fd >= 0)
        let kvm = KVMSystem(adoptingFileDescriptor: fd)
        #expect(throws: KVMError(operation: "KVM_GET_API_VERSION", errno: ENOTTY)) { _ = try kvm.apiVersion() }
        do { _ = try kvm.checkExtension(.userMemory) } catch {
            #expect(error.description.hasPrefix("KVM_CHECK_EXTENSION(KVM_CAP_USER_MEMORY) failed: ENOTTY"))
        }
    }

    @Test("a closed fd (-1) gives EBADF naming each ioctl")
    func closedFD() {
        let kvm = KVMSystem(adoptingFileDescriptor: -1)
        #expect(throws: KVMError(operation: "KVM_GET_VCPU_MMAP_SIZE", errno: EBADF)) { _ = try kvm.vcpuMmapSize() }
        #expect(throws: KVMError(operation: "KVM_GET_VCPU_MMAP_SIZE", errno: EBADF)) { _ = try kvm.createVM() }  // asked first
        let vm = VirtualMachine(adoptingFileDescriptor: -1, vcpuMmapSize: 4096)
        #expect(throws: KVMError(operation: "KVM_CREATE_VCPU", errno: EBADF)) { _ = try vm.createVCPU(id: 0) }
        #expect(throws: KVMError(operation: "KVM_SET_USER_MEMORY_REGION", errno: EBADF)) {
            try vm.setUserMemoryRegion(slot: 0, guestAddress: PhysicalAddress(0), size: 0, hostAddress: nil)
        }
        #expect(throws: KVMError(operation: "KVM_CREATE_DEVICE(vGICv3)", errno: EBADF)) {
            _ = try vm.createDevice(type: ckvm_KVM_DEV_TYPE_ARM_VGIC_V3, name: "vGICv3")
        }
    }

    @Test("the error text is 'IOCTL failed: ENAME (strerror) — hint'")
    func errorText() {
        let e = KVMError(operation: "KVM_ARM_VCPU_INIT", errno: EINVAL)
        #expect(e.description.hasPrefix("KVM_ARM_VCPU_INIT failed: EINVAL (Invalid argument) — "))
        #expect(e.description.contains("kvm-arm.mode=nested"))
        #expect(KVMError(operation: "KVM_RUN", errno: EAGAIN).hint?.contains("vGICv3") == true)
        // Without a specific hint, a KVM ioctl's error points at its entry in api.rst.
        #expect(
            KVMError(operation: "KVM_GET_DEVICE_ATTR(vGICv3: x)", errno: ENXIO).hint
                == "see KVM_GET_DEVICE_ATTR in Documentation/virt/kvm/api.rst for what ENXIO means there")
    }
}

@Suite("owning handles close their fd exactly once", .serialized)
struct HandleLifetimeTests {
    /// The write end of a pipe: closing it makes the read end see EOF.
    func pipeEnds() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        return (fds[0], fds[1])
    }

    func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

    @Test("close() closes the fd")
    func explicitClose() throws {
        let (r, w) = try pipeEnds()
        defer { close(r) }
        let handle = KVMSystem(adoptingFileDescriptor: w)
        #expect(isOpen(w))
        handle.close()
        var byte: UInt8 = 0
        #expect(read(r, &byte, 1) == 0)  // EOF: the only write end is closed
    }

    @Test("dropping the handle closes the fd")
    func deinitCloses() throws {
        let (r, w) = try pipeEnds()
        defer { close(r) }
        do {
            let vm = VirtualMachine(adoptingFileDescriptor: w, vcpuMmapSize: 0)
            #expect(vm.fileDescriptor == w)
        }
        var byte: UInt8 = 0
        #expect(read(r, &byte, 1) == 0)
    }

    @Test("after close(), the handle's end of life does not close the fd number again")
    func noDoubleClose() throws {
        let (r, w0) = try pipeEnds()
        defer { close(r) }
        // Move the fd to a high number no other (parallel) test will be handed by open().
        let w = fcntl(w0, F_DUPFD_CLOEXEC, 900)
        close(w0)
        try #require(w >= 900)
        func closeThroughHandle() -> Int32 {
            let handle = KVMSystem(adoptingFileDescriptor: w)
            handle.close()
            // Reuse the number at once, so a second close of `w` by the handle would close this.
            let sentinel = open("/dev/null", O_RDONLY | O_CLOEXEC)
            let reused = dup2(sentinel, w)
            close(sentinel)
            return reused
        }
        let reused = closeThroughHandle()
        try #require(reused == w)
        #expect(isOpen(w))  // still open: the consumed handle did not close it a second time
        close(w)
    }
}
