import ArgumentParser
import Machine
import Reporting

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Where a tool's result goes: stdout, with every write checked. A result that cannot be
/// written (a full disk, /dev/full, a closed pipe) is an error, exit 74 (EX_IOERR), never a
/// silent success.
enum ResultOutput {
    static let ioErrorStatus: Int32 = 74

    /// Writes `text` to stdout or throws `ExitCode(74)` after saying why on stderr.
    static func write(_ text: String) throws {
        let e = FileIO.writeAll(1, text)
        if e != 0 {
            error("cannot write the result to stdout: \(String(cString: strerror(e))) (errno \(e))")
            throw ExitCode(ioErrorStatus)
        }
    }

    /// `error: MESSAGE` on stderr: one line, control characters escaped, at most 4 KiB.
    static func error(_ message: String) {
        var m = Escape.terminal(message)
        if m.utf8.count > 4096 { m = String(m.prefix(4000)) + "… (message cut)" }
        _ = FileIO.writeAll(2, "error: \(m)\n")
    }
}
