import Glibc

/// Unbuffered writes to the process's standard error (fd 2), usable from any thread (a short
/// line goes out in one write(2)).
public enum StandardError {
    /// Writes `text`; a failed write is dropped (diagnostics only).
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            // SAFETY: write(2) reads at most the array's remaining bytes.
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            done += n
        }
    }
}
