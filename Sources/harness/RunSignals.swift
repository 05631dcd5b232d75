import ArgumentParser
import KVM
import Reporting

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT/SIGTERM for every run path (the KVM path and the skip path alike): from the start
/// of the run a signal no longer kills the process; the runner stops before the next test (a
/// test in KVM_RUN ends at once, its VM torn down), writes the report of what ran and exits
/// 128 + the signal number. A second signal kills the process the default way.
enum RunSignals {
    static func install() throws {
        do { try VCPU.installSignalHandlers() } catch {
            throw ValidationError("cannot install the SIGINT/SIGTERM handlers: \(error)")
        }
    }

    /// The signal that asked the run to stop, if one came.
    static var pending: Int32? { VCPU.pendingStopSignal }

    static func name(_ signal: Int32) -> String {
        signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
    }

    /// Says on stderr where the run stopped and exits 128 + signal (after the report is written).
    static func exit(_ signal: Int32, ran: Int, planned: Int) -> ExitCode {
        FileDescriptorSink.standardError().write(
            "harness: stopped by \(name(signal)) after \(ran) of \(planned) tests; the report covers those\n")
        return ExitCode(128 + signal)
    }
}
