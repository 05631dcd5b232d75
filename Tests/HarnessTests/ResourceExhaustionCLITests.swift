import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The harness when the host or the process runs short: /dev/kvm not accessible, too few file
/// descriptors, too little address space, a storm of signals interrupting KVM_RUN. Each gives a
/// clear message and its exit status (77 this host cannot, 125 could not test, 0 when the
/// storm is ridden out). Uses `bench vm-cycles`, which opens /dev/kvm, creates VMs and runs them.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm"), "needs /dev/kvm"))
struct ResourceExhaustionCLITests {
    @Test(.enabled(if: getuid() == 0, "needs root to drop to another user"))
    func kvmNotAccessibleIsASkipWithTheFix() throws {
        // As user nobody (not in group kvm; /dev/kvm is 0660 root:kvm here): open() gets EACCES.
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        chmod(dir.path, 0o755)
        let copy = dir.appendingPathComponent("harness").path
        try FileManager.default.copyItem(atPath: try RunCLITests.harnessPath(), toPath: copy)
        chmod(copy, 0o755)
        let r = try Subprocess.run(
            ["--reuid=65534", "--regid=65534", "--clear-groups", copy, "bench", "vm-cycles", "--count", "2"],
            executable: "/usr/bin/setpriv")
        #expect(r.status == 77, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("open(/dev/kvm) failed: EACCES"), "\(r.stderr)")
        #expect(r.stderr.contains("group 'kvm'"), "\(r.stderr)")
    }

    @Test func tooFewDescriptorsToStartIsCouldNotTest() throws {
        let r = try Subprocess.run(["bench", "vm-cycles", "--count", "2"], rlimits: [(Int32(RLIMIT_NOFILE.rawValue), 8)])
        #expect(r.status == 125 && !r.signaled, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("RLIMIT_NOFILE is 8 with") && r.stderr.contains("needs a limit of at least 16 and 4 free"), "\(r.stderr)")
    }

    @Test func runningOutOfDescriptorsInAVMIsCouldNotTest() throws {
        // Descriptors 3…K held open by the shell, limit 16: for small K the VMs get their fds
        // (exit 0); from some K on, KVM_CREATE_VM or KVM_CREATE_VCPU gets EMFILE (exit 125 with
        // the ioctl named). Never a crash, and at least one K reaches the EMFILE path.
        let harness = try RunCLITests.harnessPath()
        var emfile = 0
        for k in 3...14 {
            let hold = (3...k).map { "\($0)</dev/null" }.joined(separator: " ")
            let r = try Subprocess.run(
                ["-c", "exec \(hold); exec /usr/bin/prlimit --nofile=16 '\(harness)' bench vm-cycles --generic --count 2"],
                executable: "/bin/bash")
            #expect(!r.signaled && !r.timedOut && [0, 125].contains(r.status), "K=\(k): \(r.status) \(r.stderr)")
            if r.status == 125 {
                #expect(r.stderr.contains("Too many open files") || r.stderr.contains("RLIMIT_NOFILE"), "K=\(k): \(r.stderr)")
                if r.stderr.contains("KVM_CREATE_VM failed: EMFILE") || r.stderr.contains("KVM_CREATE_VCPU failed: EMFILE") {
                    #expect(r.stderr.contains("could not test (out of a resource)"))
                    emfile += 1
                }
            }
        }
        #expect(emfile > 0, "no descriptor count reached KVM's EMFILE")
    }

    // A loaded machine, made on purpose: strace holds every timerfd_create (the Swift runtime's
    // event-loop thread makes one when it first runs) for 200 ms. Without waiting for that thread
    // the descriptor appeared between the start and end samples: "fds CHANGED", exit 1.
    /// strace is installed and may trace here (ptrace can be forbidden in a container).
    static let straceWorks: Bool = {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace") else { return false }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        p.arguments = ["-f", "-o", "/dev/null", "/bin/true"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    @Test(.enabled(if: straceWorks, "needs strace allowed to trace"))
    func aLateRuntimeThreadChangesNoVerdict() throws {
        let harness = try RunCLITests.harnessPath()
        let r = try Subprocess.run(
            [
                "-f", "-o", "/dev/null", "-e", "trace=timerfd_create", "-e", "inject=timerfd_create:delay_enter=200000", harness,
                "bench", "vm-cycles", "--generic", "--count", "100",
            ], timeout: 300, executable: "/usr/bin/strace")
        #expect(!r.signaled && !r.timedOut && r.status == 0, "\(r.status) \(r.stdoutText) \(r.stderr)")
        #expect(r.stdoutText.contains("fds and mappings flat"), "\(r.stdoutText)")
    }

    @Test func guestMemoryBeyondTheAddressSpaceLimitIsCouldNotTest() throws {
        let r = try Subprocess.run(
            ["bench", "vm-cycles", "--count", "2", "--generic", "--ram-mib", "2048"],
            rlimits: [(Int32(RLIMIT_AS.rawValue), 1 << 30)])
        #expect(r.status == 125 && !r.signaled, "\(r.status) \(r.stderr)")
        #expect(
            r.stderr.contains("cannot map 2147483648 bytes of guest memory") && r.stderr.contains("Cannot allocate memory"), "\(r.stderr)")
    }

    // A storm of signals the harness handles (its watchdog's own signal number, sent from
    // outside, so every KVM_RUN it lands in returns EINTR without a passed deadline): every
    // cycle still completes, the retries are counted, exit 0.
    @Test func aStormOfSignalsDuringKVMRunIsRiddenOut() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out").path
        let watchdogSignal = Int32(__libc_current_sigrtmin() + 1)
        // The storm: tgkill(2) to every thread of the harness every 200 µs until it exits (a
        // process-directed signal could always land on a thread that is not in KVM_RUN).
        // Python's ctypes reaches tgkill, which Swift's Glibc module does not export.
        let stormer = Process()
        let countFile = dir.appendingPathComponent("sent").path
        stormer.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let r = try Subprocess.run(
            ["bench", "vm-cycles", "--generic", "--count", "40", "--spin", "3000"], stdoutPath: out, timeout: 300,
            onRunning: (
                { SignalCLITests.size(out) > 0 },
                { pid in
                    stormer.arguments = [
                        "-c",
                        """
                        import ctypes, os, time
                        libc = ctypes.CDLL(None, use_errno=True)
                        pid, sig, sent = \(pid), \(watchdogSignal), 0
                        try:
                            while os.path.exists(f"/proc/{pid}/task"):
                                tids = os.listdir(f"/proc/{pid}/task")
                                for t in tids:
                                    if libc.syscall(234, pid, int(t), sig) == 0: sent += 1
                                time.sleep(0.0002)
                                if open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z": break
                        except OSError:
                            pass   # the harness exited between two looks at /proc
                        finally:
                            open("\(countFile)", "w").write(str(sent))
                        """,
                    ]
                    try? stormer.run()
                }
            ))
        stormer.waitUntilExit()
        let sent = Int((try? String(contentsOfFile: countFile, encoding: .utf8)) ?? "") ?? 0
        #expect(!r.timedOut && !r.signaled && r.status == 0, "\(r.status) \(r.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.contains("40 cycles after"), "\(text)")
        let line = text.split(separator: "\n").first { $0.contains("KVM_RUN interrupted by other signals and retried:") } ?? ""
        let retried = Int(line.split(separator: " ").last ?? "") ?? 0
        #expect(sent > 100, "only \(sent) signals sent")
        #expect(retried > 0, "no KVM_RUN was interrupted by the \(sent) signals: \(text)")
    }
}
