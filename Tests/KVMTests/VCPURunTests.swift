import AArch64
import Glibc
import KVM
import Testing

/// Real guests on the x86 KVM of this machine. An x86 vCPU starts at the reset vector:
/// CS.base 0xFFFF0000, IP 0xFFF0, real mode, DS.base 0 (Intel SDM vol. 3, 9.1.4 "First
/// Instruction Executed"), so code placed at guest-physical 0xFFFFFFF0 runs with no set-up.
enum RealModeGuest {
    static let base = PhysicalAddress(0xFFFF_0000)
    static let size = 0x10000
    static let resetOffset = 0xFFF0

    /// `mov byte [0x1000], 0x5a` (C6 /0, ModRM 06 = disp16, imm8) then `hlt` (F4):
    /// an MMIO write of one byte to the unbacked 0x1000, then KVM_EXIT_HLT.
    static let mmioThenHalt: [UInt8] = [0xC6, 0x06, 0x00, 0x10, 0x5A, 0xF4]
    /// `mov al, [0x2000]` (A0 moffs16) then `mov [0x1000], al` (A2 moffs16) then `hlt`:
    /// an MMIO read whose value the host supplies, echoed back as an MMIO write.
    static let readEchoHalt: [UInt8] = [0xA0, 0x00, 0x20, 0xA2, 0x00, 0x10, 0xF4]
    /// `jmp $` (EB FE): spins forever without exiting.
    static let spin: [UInt8] = [0xEB, 0xFE]

    static func load(_ code: [UInt8], into pages: HostPages) {
        let p = pages.pointer + resetOffset
        for (i, b) in code.enumerated() { p.storeBytes(of: b, toByteOffset: i, as: UInt8.self) }
    }
}

@Suite("KVM_RUN and VCPUExit on a real x86 guest", .enabled(if: kvmUsable && !kvmHasARM64, "needs an x86 /dev/kvm"))
struct VCPURunTests {
    @Test("an MMIO write exit carries address, length and data; then hlt")
    func mmioWrite() throws {
        try withKVMTestLock {
            let kvm = try KVMSystem()
            let vm = try kvm.createVM()
            let pages = HostPages(size: RealModeGuest.size)
            RealModeGuest.load(RealModeGuest.mmioThenHalt, into: pages)
            try vm.setUserMemoryRegion(slot: 0, guestAddress: RealModeGuest.base, size: UInt64(pages.size), hostAddress: pages.pointer)
            let vcpu = try vm.createVCPU(id: 0)
            #expect(
                try vcpu.run(timeoutNanoseconds: 5_000_000_000)
                    == .mmio(address: PhysicalAddress(0x1000), length: 1, isWrite: true, data: 0x5a))
            #expect(try vcpu.run(timeoutNanoseconds: 5_000_000_000) == .halt)
        }
    }

    @Test("completeMMIORead supplies the value the guest loads")
    func mmioRead() throws {
        try withKVMTestLock {
            let kvm = try KVMSystem()
            let vm = try kvm.createVM()
            let pages = HostPages(size: RealModeGuest.size)
            RealModeGuest.load(RealModeGuest.readEchoHalt, into: pages)
            try vm.setUserMemoryRegion(slot: 0, guestAddress: RealModeGuest.base, size: UInt64(pages.size), hostAddress: pages.pointer)
            let vcpu = try vm.createVCPU(id: 0)
            let early = vcpu.completeMMIORead(value: 1)
            #expect(!early)  // no exit yet: refused
            #expect(
                try vcpu.run(timeoutNanoseconds: 5_000_000_000)
                    == .mmio(address: PhysicalAddress(0x2000), length: 1, isWrite: false, data: 0))
            let supplied = vcpu.completeMMIORead(value: 0xC3)
            #expect(supplied)
            #expect(
                try vcpu.run(timeoutNanoseconds: 5_000_000_000)
                    == .mmio(address: PhysicalAddress(0x1000), length: 1, isWrite: true, data: 0xC3))
            let onWrite = vcpu.completeMMIORead(value: 1)
            #expect(!onWrite)  // a write exit: refused
            #expect(try vcpu.run(timeoutNanoseconds: 5_000_000_000) == .halt)
        }
    }

    @Test("the watchdog interrupts a spinning guest: KVM_RUN returns EINTR as .interrupted(.watchdog)")
    func watchdog() throws {
        try withKVMTestLock {
            try VCPU.installSignalHandlers()
            let kvm = try KVMSystem()
            let vm = try kvm.createVM()
            let pages = HostPages(size: RealModeGuest.size)
            RealModeGuest.load(RealModeGuest.spin, into: pages)
            try vm.setUserMemoryRegion(slot: 0, guestAddress: RealModeGuest.base, size: UInt64(pages.size), hostAddress: pages.pointer)
            let vcpu = try vm.createVCPU(id: 0)
            let start = ContinuousClock.now
            let exit = try vcpu.run(timeoutNanoseconds: 200_000_000)
            let elapsed = ContinuousClock.now - start
            #expect(exit == .interrupted(.watchdog))
            // Never early; late only by scheduling (generous: a loaded machine is slow, a timer
            // armed in the wrong unit is 1000 times late).
            #expect(elapsed >= .milliseconds(200))
            #expect(elapsed < .seconds(60))
            // The guest still spins; a second run is interrupted again (immediate_exit was reset).
            #expect(try vcpu.run(timeoutNanoseconds: 50_000_000) == .interrupted(.watchdog))
        }
    }

    @Test("a watchdog that expires at once (1 ns) still yields a clean EINTR, not a lost signal")
    func immediateWatchdog() throws {
        try withKVMTestLock {
            let kvm = try KVMSystem()
            let vm = try kvm.createVM()
            let pages = HostPages(size: RealModeGuest.size)
            RealModeGuest.load(RealModeGuest.spin, into: pages)
            try vm.setUserMemoryRegion(slot: 0, guestAddress: RealModeGuest.base, size: UInt64(pages.size), hostAddress: pages.pointer)
            let vcpu = try vm.createVCPU(id: 0)
            // The timer may fire before KVM_RUN is entered: the handler's immediate_exit makes
            // KVM_RUN return EINTR at once instead of spinning forever.
            #expect(try vcpu.run(timeoutNanoseconds: 1) == .interrupted(.watchdog))
        }
    }
}
