import AArch64
import CKVM
import Foundation
import Glibc
import KVM
import Machine
import Synchronization
import Testing

/// The Machine's run loop on the real x86 KVM of this machine (`.resetState` vCPUs start in
/// real mode at CS.base 0xFFFF0000 + IP 0xFFF0 — Intel SDM vol. 3, 9.1.4), so the watchdog,
/// exit history and stop handling are exercised for real. The EL2 parts need arm64 (see the
/// arm64 suite below and `harness doctor` in the emulated host).
@Suite("Machine run loop on a real x86 guest", .serialized, .enabled(if: kvmUsable && !kvmHasARM64, "needs an x86 /dev/kvm"))
struct MachineRunTests {
    static func machine(code: [UInt8]) throws -> Machine {
        let map = try MemoryMap([
            MemoryRegion(name: "reset", base: PhysicalAddress(0xFFFF_0000), size: 0x10000, kind: .ram),
            MemoryRegion(name: "device", base: PhysicalAddress(0x1000), size: 0x1000, kind: .mmio),
        ])
        let m = try Machine(MachineConfiguration(map: map, mode: .resetState, historyLength: 4))
        try m.memory.write(bytes: code, at: PhysicalAddress(0xFFFF_FFF0))
        return m
    }

    @Test("exits come back decoded and are remembered in order")
    func exitsAndHistory() throws {
        try withKVMTestLock {
            // mov byte [0x1000], 0x5a (C6 06 00 10 5A); hlt (F4)
            let m = try Self.machine(code: [0xC6, 0x06, 0x00, 0x10, 0x5A, 0xF4])
            #expect(try m.run(timeout: .seconds(5)) == .mmio(address: PhysicalAddress(0x1000), length: 1, isWrite: true, data: 0x5a))
            #expect(try m.run(timeout: .seconds(5)) == .halt)
            #expect(m.lastExits().map(\.exit) == [.mmio(address: PhysicalAddress(0x1000), length: 1, isWrite: true, data: 0x5a), .halt])
            #expect(m.lastExits().map(\.sequence) == [1, 2])
        }
    }

    @Test("a spinning guest becomes a timeout error carrying the last exits (exit code 124)")
    func watchdogTimeout() throws {
        try withKVMTestLock {
            // Five MMIO writes (mov byte [0x1000], 0x01..0x05), then jmp $ (EB FE).
            var code: [UInt8] = []
            for v in UInt8(1)...5 { code += [0xC6, 0x06, 0x00, 0x10, v] }
            code += [0xEB, 0xFE]
            // At the reset vector: jmp short -0x72 (EB 8E) from IP 0xFFF2 to 0xFF80, where the body is.
            let body = try Self.machine(code: [0xEB, 0x8E])
            try body.memory.write(bytes: code, at: PhysicalAddress(0xFFFF_FF80))
            for v in UInt64(1)...5 {
                #expect(try body.run(timeout: .seconds(5)) == .mmio(address: PhysicalAddress(0x1000), length: 1, isWrite: true, data: v))
            }
            let start = ContinuousClock.now
            do {
                _ = try body.run(timeout: .milliseconds(300))
                Issue.record("a spinning guest returned an exit")
            } catch let error as MachineError {
                let elapsed = ContinuousClock.now - start
                // Never early; the upper bound is generous (scheduling on a loaded machine).
                #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(60))
                guard case let .timeout(vcpu, after, pc, lastExits) = error else {
                    Issue.record("\(error)")
                    return
                }
                #expect(vcpu == 0)
                #expect(after == .milliseconds(300))
                #expect(pc == nil)  // x86 has no ONE_REG PC; arm64 reports it
                // historyLength 4: the last three MMIO writes and the watchdog interruption.
                #expect(lastExits.map(\.sequence) == [3, 4, 5, 6])
                #expect(lastExits.last?.exit == .interrupted(.watchdog))
                #expect(lastExits.first?.exit == .mmio(address: PhysicalAddress(0x1000), length: 1, isWrite: true, data: 3))
                #expect(error.suggestedExitCode == 124)
                #expect(error.description.contains("timeout: vCPU 0 did not exit within"))
            }
        }
    }

    @Test("one deadline across many exits: the watchdog (armed once) still ends the final spin at it")
    func sharedDeadline() throws {
        try withKVMTestLock {
            // 100 MMIO writes (mov [0x1000], al; dec cx; jnz) then jmp $: B9 64 00 / A2 00 10 / 49 / 75 FA / EB FE
            // (100, not more: a loaded machine must still make them all well within the deadline).
            let body: [UInt8] = [0xB9, 0x64, 0x00, 0xA2, 0x00, 0x10, 0x49, 0x75, 0xFA, 0xEB, 0xFE]
            let m = try Self.machine(code: [0xEB, 0x8E])  // jmp short to 0xFF80
            try m.memory.write(bytes: body, at: PhysicalAddress(0xFFFF_FF80))
            let deadline = ContinuousClock.now.advanced(by: .milliseconds(1500))
            var exits = 0
            do {
                while true {
                    guard case .mmio(PhysicalAddress(0x1000), 1, true, _) = try m.run(deadline: deadline) else {
                        Issue.record("unexpected exit")
                        return
                    }
                    exits += 1
                }
            } catch let error as MachineError {
                guard case let .timeout(_, after, _, _) = error else {
                    Issue.record("\(error)")
                    return
                }
                #expect(exits == 100)
                // The report names the deadline's whole budget, not what was left at the last call.
                #expect(after > .milliseconds(1400) && after <= .milliseconds(1500))
                let late = ContinuousClock.now - deadline
                // Never before the deadline; after it only by scheduling (generous on a loaded machine).
                #expect(late >= .zero && late < .seconds(60))
            }
        }
    }

    @Test("a deadline that passes between two runs stops the next run before the guest runs (no clock read per exit)")
    func deadlinePassedBetweenRuns() throws {
        try withKVMTestLock {
            // Three MMIO writes (mov byte [0x1000], 1..3), then hlt (F4) — a guest that would exit
            // normally if it were allowed to run again.
            var code: [UInt8] = []
            for v in UInt8(1)...3 { code += [0xC6, 0x06, 0x00, 0x10, v] }
            code += [0xF4]
            let m = try Self.machine(code: [0xEB, 0x8E])  // jmp short to 0xFF80
            try m.memory.write(bytes: code, at: PhysicalAddress(0xFFFF_FF80))
            for form in 0..<2 {
                // 1 s for one KVM_RUN to the first MMIO exit: ample on a loaded machine.
                let budget = Duration.seconds(1)
                let instant = ContinuousClock.now.advanced(by: budget)
                let deadline = Machine.Deadline(instant, budget: budget)
                func run() throws(MachineError) -> VCPUExit {
                    form == 0 ? try m.run(deadline: deadline) : try m.run(deadline: instant)
                }
                // First run under this deadline: arms the watchdog; the guest exits at once.
                #expect(try run() == .mmio(address: PhysicalAddress(0x1000), length: 1, isWrite: true, data: UInt64(form + 1)))
                // The timer fires while no KVM_RUN is in progress (a sleep is never shorter).
                Thread.sleep(forTimeInterval: 1.2)
                do {
                    let exit = try run()
                    Issue.record("ran past the deadline (form \(form)): \(exit)")
                } catch let error as MachineError {
                    guard case .timeout = error else {
                        Issue.record("\(error)")
                        return
                    }
                    #expect(m.lastExits().last?.exit == .interrupted(.watchdog))
                }
            }
            // The guest never ran between: its next store is the third one.
            #expect(try m.run(timeout: .seconds(5)) == .mmio(address: PhysicalAddress(0x1000), length: 1, isWrite: true, data: 3))
        }
    }

    @Test("dirty logging: the pages a guest writes, and only those, come back from KVM_GET_DIRTY_LOG")
    func dirtyPages() throws {
        try withKVMTestLock {
            let map = try MemoryMap([
                MemoryRegion(name: "reset", base: PhysicalAddress(0xFFFF_0000), size: 0x10000, kind: .ram),
                MemoryRegion(name: "data", base: PhysicalAddress(0), size: 0x10000, kind: .ram, logDirtyPages: true),
            ])
            let m = try Machine(MachineConfiguration(map: map, mode: .resetState))
            // mov byte [0x2345], 0x11 ; mov byte [0x7000], 0x22 ; hlt  (DS.base = 0 at reset)
            try m.memory.write(
                bytes: [0xC6, 0x06, 0x45, 0x23, 0x11, 0xC6, 0x06, 0x00, 0x70, 0x22, 0xF4],
                at: PhysicalAddress(0xFFFF_FFF0 - 0x10))
            try m.memory.write(bytes: [0xEB, 0xEE], at: PhysicalAddress(0xFFFF_FFF0))  // jmp short -0x12 → 0xFFE0
            #expect(try m.dirtyPages(region: "data") == [])
            #expect(try m.run(timeout: .seconds(5)) == .halt)
            #expect(try m.memory.read(UInt8.self, at: PhysicalAddress(0x2345)) == 0x11)
            #expect(try m.memory.read(UInt8.self, at: PhysicalAddress(0x7000)) == 0x22)
            let page = m.hostPageSize
            #expect(try m.dirtyPages(region: "data") == [PhysicalAddress(0x2345 / page * page), PhysicalAddress(0x7000 / page * page)])
            #expect(try m.dirtyPages(region: "data") == [])  // reading the log clears it
            #expect(throws: MachineError.self) { _ = try m.dirtyPages(region: "reset") }  // not logging
        }
    }

    @Test("SIGTERM during KVM_RUN stops the run loop with .stopped and the VM is torn down")
    func stopSignal() throws {
        try withKVMTestLock {
            defer { ckvm_reset_stop_signal() }
            let before = Self.kvmVMFileDescriptors()
            do {
                let m = try Self.machine(code: [0xEB, 0xFE])
                #expect(Self.kvmVMFileDescriptors().count == before.count + 1)
                // Process-directed, like `kill PID`: some thread that does not block SIGTERM takes it
                // and the handler forwards it to the thread in KVM_RUN.
                let sender = Thread {
                    usleep(100_000)
                    kill(getpid(), SIGTERM)
                }
                sender.start()
                do {
                    _ = try m.run(timeout: .seconds(10))
                    Issue.record("spinning guest returned")
                } catch let error as MachineError {
                    guard case let .stopped(signal, _) = error else {
                        Issue.record("\(error)")
                        return
                    }
                    #expect(signal == SIGTERM)
                    #expect(error.suggestedExitCode == 128 + SIGTERM)
                }
                // Later runs refuse to start until the stop is cleared.
                #expect(throws: MachineError.self) { _ = try m.run(timeout: .seconds(1)) }
            }
            // The Machine is gone: its VM fd is closed.
            #expect(Self.kvmVMFileDescriptors() == before)
        }
    }

    static func isKVMVM(_ fd: Int32) -> Bool {
        var buf = [UInt8](repeating: 0, count: 256)
        let n = buf.withUnsafeMutableBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { readlink("/proc/self/fd/\(fd)", $0.baseAddress!, 255) }
        }
        return n > 0 && String(decoding: buf[0..<n], as: UTF8.self).contains("kvm-vm")
    }

    static func kvmVMFileDescriptors() -> [Int32] {
        (0..<1024).map(Int32.init).filter { isKVMVM($0) }
    }

    @Test("an EL2 machine on a non-arm64 host is a skip (77), not a failure")
    func el2OnX86() throws {
        let map = try MemoryMap(MemoryMap.gicRegions(vcpus: 1))
        do {
            _ = try Machine(MachineConfiguration(map: map, mode: .el2(e2h0: false)))
            Issue.record("EL2 machine created on x86")
        } catch {
            #expect(error.suggestedExitCode == 77)
            #expect(error.description.contains("not an arm64 host"))
        }
    }
}

/// The arm64 path for real: an EL2 vCPU with the in-kernel vGICv3 runs four instructions at
/// vEL2 (EL2SmokeGuest) — an MMIO exit, ONE_REG reads, the watchdog. Runs on arm64 KVM hosts
/// with nested virtualization (e.g. inside scripts/emu-host); `harness doctor` runs the same.
@Suite(
    "EL2 machine on arm64 KVM", .serialized,
    .enabled(if: kvmUsable && kvmHasARM64, "needs arm64 KVM (run in the emulated host: scripts/emu-host)"))
struct EL2MachineTests {
    struct NotTogether: Error { let vcpu: Int }

    @Test("a vEL2 guest makes the expected MMIO exit and its registers read back")
    func smoke() throws {
        try withKVMTestLock {
            let map = try MemoryMap(
                MemoryMap.gicRegions(vcpus: 1) + [
                    MemoryRegion(name: "ram", base: PhysicalAddress(0x4000_0000), size: 0x20_0000, kind: .ram)
                ])
            let machine = try Machine(MachineConfiguration(map: map, mode: .el2(e2h0: false)))
            let regs = try machine.registerList()
            #expect(regs.contains(SystemRegister.VTTBR_EL2.kvmRegisterID))
            #expect(regs.contains(SystemRegister.HPFAR_EL2.kvmRegisterID))
            let result = EL2SmokeGuest.run(on: machine, entry: PhysicalAddress(0x4000_0000))
            if case let .failure(f) = result { Issue.record("\(f)") }
        }
    }

    /// Two EL2 vCPUs spinning at vEL2 (`b .`), each run from its own thread.
    static func spinners() throws -> Machine {
        let map = try MemoryMap(
            MemoryMap.gicRegions(vcpus: 2) + [
                MemoryRegion(name: "ram", base: PhysicalAddress(0x4000_0000), size: 0x20_0000, kind: .ram)
            ])
        let machine = try Machine(MachineConfiguration(map: map, vcpuCount: 2, mode: .el2(e2h0: false)))
        try machine.memory.write(UInt32(0x1400_0000), at: PhysicalAddress(0x4000_0000))  // b . (A64 B, imm26 = 0)
        for k in 0..<2 { try machine.setEntry(vcpu: k, pc: PhysicalAddress(0x4000_0000)) }
        return machine
    }

    @Test("two vCPUs on their own threads: each thread's watchdog ends its own vCPU's spin")
    func watchdogPerThread() throws {
        try withKVMTestLock {
            let machine = try Self.spinners()
            // Both run at once: each thread waits for the other before its KVM_RUN (one thread
            // running them in turn would wait forever, cut at 60 s), whatever the machine's load.
            let started = Atomic<Int>(0)
            let results = try VCPUThreads.run(
                (0..<2).map { k in
                    { () throws -> VCPUExit in
                        started.add(1, ordering: .sequentiallyConsistent)
                        let limit = ContinuousClock.now.advanced(by: .seconds(60))
                        while started.load(ordering: .sequentiallyConsistent) < 2 {
                            if ContinuousClock.now > limit { throw NotTogether(vcpu: k) }
                        }
                        return try machine.run(vcpu: k, timeout: .milliseconds(400 + 400 * k))
                    }
                })
            for (k, r) in results.enumerated() {
                do {
                    _ = try r.get()
                    Issue.record("vCPU \(k) returned from a spin")
                } catch let error as MachineError {
                    guard case let .timeout(vcpu, after, _, _) = error else {
                        Issue.record("\(error)")
                        continue
                    }
                    #expect(vcpu == k && after == .milliseconds(400 + 400 * k))
                } catch { Issue.record("\(error)") }
            }
        }
    }

    @Test("SIGTERM while two vCPU threads are in KVM_RUN stops both with .stopped")
    func stopSignalReachesEveryThread() throws {
        try withKVMTestLock {
            defer { ckvm_reset_stop_signal() }
            let machine = try Self.spinners()
            let sender = Thread {
                usleep(300_000)
                kill(getpid(), SIGTERM)
            }
            sender.start()
            let results = try VCPUThreads.run(
                (0..<2).map { k in { () throws -> VCPUExit in try machine.run(vcpu: k, timeout: .seconds(20)) } })
            for (k, r) in results.enumerated() {
                do {
                    _ = try r.get()
                    Issue.record("vCPU \(k) returned from a spin")
                } catch let error as MachineError {
                    guard case let .stopped(signal, _) = error else {
                        Issue.record("vCPU \(k): \(error)")
                        continue
                    }
                    #expect(signal == SIGTERM)
                } catch { Issue.record("\(error)") }
            }
        }
    }
}
