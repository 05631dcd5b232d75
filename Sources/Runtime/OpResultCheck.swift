import GuestProtocol

/// The checks every runner makes of what the nested guest wrote for its ops: each op ran as
/// many times as asked, its last value is the expected one, and (ops with
/// `checkEveryRepetition`) no repetition read anything else.
public enum OpResultCheck {
    /// Mismatches, one line each; `name` prefixes them (e.g. "vCPU 1 ") when not empty.
    public static func failures(
        ops: [GuestOp], results: [OpResult], expected: [Int: UInt64], patterns: [Int: ResultPattern] = [:], name: String = ""
    ) -> [String] {
        var bad: [String] = []
        for (i, op) in ops.enumerated() {
            let r = results[i]
            let want = UInt64(max(op.repeatCount, 1))
            // A watch's count is the reads it made (checked against its record: `WatchCheck`).
            if op.kind != .watch64 && r.count != want {
                bad.append("\(name)op \(i) (\(op.kind.cName)) ran \(r.count) time(s), expected \(want)")
            }
            if let v = expected[i], r.value != v {
                bad.append("\(name)op \(i) (\(op.kind.cName) at \(hex(op.address))) produced \(hex(r.value)), expected \(hex(v))")
            }
            if let p = patterns[i], !p.matches(r.value) {
                bad.append(
                    "\(name)op \(i) (\(op.kind.cName) at \(hex(op.address))) produced \(hex(r.value)), expected \(p.description)")
            }
            if op.checkEveryRepetition, r.mismatches != 0 {
                bad.append(
                    "\(name)op \(i) (\(op.kind.cName) at \(hex(op.address))) read a value other than \(hex(op.value)) in \(r.mismatches) of \(r.count) repetition(s), first in repetition \(r.firstMismatch)"
                )
            }
        }
        return bad
    }
}
