import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `harness` as a subprocess with a deadline (it is killed with SIGKILL when it passes: a hang
/// is a failure, not a stuck test run; wall time, so generous, and a bound on work is an
/// RLIMIT_CPU in `rlimits`), optional stdin, and an optional signal sent once a condition on
/// the files it writes holds.
struct Subprocess {
    struct Result {
        var status: Int32
        /// true: ended by a signal (status is then the signal number).
        var signaled: Bool
        var timedOut: Bool
        var stdout: [UInt8]
        var stderr: String
        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    }

    static func run(
        _ arguments: [String], stdin: [UInt8]? = nil, stdoutPath: String? = nil,
        timeout: Double = 300, environment: [String: String] = [:],
        signal: (number: Int32, when: () -> Bool)? = nil,
        onRunning: (when: () -> Bool, start: (Int32) -> Void)? = nil,
        rlimits: [(resource: Int32, value: UInt64)] = [], executable: String? = nil
    ) throws -> Result {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outPath = stdoutPath ?? dir.appendingPathComponent("out").path
        let errPath = dir.appendingPathComponent("err").path
        let inPath = dir.appendingPathComponent("in").path
        FileManager.default.createFile(atPath: inPath, contents: Data(stdin ?? []))
        var exe = try executable ?? RunCLITests.harnessPath()
        var args = arguments
        if !rlimits.isEmpty {
            // prlimit(1) sets the limits for the harness alone (not for this test process).
            args = rlimits.flatMap { ["--" + Self.prlimitName($0.resource) + "=\($0.value)"] } + ["--", exe] + args
            exe = "/usr/bin/prlimit"
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if !FileManager.default.fileExists(atPath: outPath) { FileManager.default.createFile(atPath: outPath, contents: nil) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardOutput = out
        p.standardError = err
        p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
        try p.run()
        let start = Date()
        var sent = signal == nil
        var timedOut = false
        var started = false
        while p.isRunning {
            if !sent, let s = signal, s.when() {
                kill(p.processIdentifier, s.number)
                sent = true
            }
            if !started, let o = onRunning, o.when() {
                o.start(p.processIdentifier)
                started = true
            }
            if Date().timeIntervalSince(start) > timeout {
                kill(p.processIdentifier, SIGKILL)
                timedOut = true
                break
            }
            usleep(sent ? 5_000 : 500)
        }
        p.waitUntilExit()
        try out.close()
        try err.close()
        let stdout = stdoutPath == nil ? Array(try Data(contentsOf: URL(fileURLWithPath: outPath))) : []
        return Result(
            status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal, timedOut: timedOut,
            stdout: stdout, stderr: String(decoding: try Data(contentsOf: URL(fileURLWithPath: errPath)), as: UTF8.self))
    }

    static func prlimitName(_ resource: Int32) -> String {
        switch resource {
        case Int32(RLIMIT_NOFILE.rawValue): "nofile"
        case Int32(RLIMIT_AS.rawValue): "as"
        case Int32(RLIMIT_FSIZE.rawValue): "fsize"
        case Int32(RLIMIT_CPU.rawValue): "cpu"
        default: "core"
        }
    }

    /// Files in `dir` (names only), hidden ones included.
    static func files(_ dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }
}
