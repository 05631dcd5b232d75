import Glibc

/// Runs another program to its end: its standard output captured, standard error and the
/// environment inherited, in this process group (so a terminal's SIGINT reaches it too).
public enum ChildProcess {
    /// What a finished child left: how it ended and what it wrote to standard output.
    public struct Outcome: Equatable, Sendable {
        /// The exit status, or 128 + n for a child killed by signal n.
        public var status: Int32
        public var output: [UInt8]
    }

    /// Why a child could not be run or waited for (an errno, with the call that failed).
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var call: String
        public var errno: Int32
        public var description: String { "\(call): \(String(cString: strerror(errno)))" }
    }

    /// Runs `path` with `arguments` (argv[0] is `path`) and waits for it.
    public static func run(_ path: String, _ arguments: [String]) throws(Failure) -> Outcome {
        var fds: [Int32] = [-1, -1]
        // SAFETY: pipe writes two descriptors into the two-element array's own storage.
        guard fds.withUnsafeMutableBufferPointer({ pipe($0.baseAddress!) }) == 0 else { throw Failure(call: "pipe", errno: errno) }
        defer { close(fds[0]) }
        // Neither end stays open in the child beyond its standard output (dup2 clears the flag).
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let redirected = posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        guard redirected == 0 else {
            close(fds[1])
            throw Failure(call: "posix_spawn_file_actions_adddup2", errno: redirected)
        }
        // SAFETY: strdup copies each argument into memory freed below, after posix_spawn has
        // copied argv into the child; the array ends with the nil posix_spawn requires.
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        // The child starts with no signal blocked and every signal at its default action, whatever
        // this process (or a test runner above it) blocked or ignored.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, &attributes, &argv, environ)
        close(fds[1])
        guard spawned == 0 else { throw Failure(call: "posix_spawn \(path)", errno: spawned) }
        let read = FileIO.readAll(fds[0])
        let status = try waitForExit(pid)
        switch read {
        case .success(let output): return Outcome(status: status, output: output)
        case .failure(let f): throw Failure(call: "read from \(path)", errno: f.errno)
        }
    }

    /// The exit status of `pid` (128 + n after signal n), retrying EINTR.
    static func waitForExit(_ pid: pid_t) throws(Failure) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw Failure(call: "waitpid", errno: errno) }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG (<sys/wait.h>), which Swift does not import.
        let termSignal = status & 0x7F
        return termSignal == 0 ? (status >> 8) & 0xFF : 128 + termSignal
    }
}
