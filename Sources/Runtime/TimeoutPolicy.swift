/// Turns a variant's `TimeBudget` into its watchdog timeout: `--timeout` overrides every
/// budget (unscaled), otherwise the budget times the multiplier.
public struct TimeoutPolicy: Sendable, Equatable {
    /// `--timeout S`: the same timeout for every variant, not scaled.
    public var override: Double?
    /// `--timeout-multiplier F` / `NVH_TIMEOUT_MULTIPLIER` (1 when neither is given).
    public var multiplier: Double

    public init(override: Double? = nil, multiplier: Double = 1) {
        self.override = override
        self.multiplier = multiplier
    }

    /// The multiplier from the option, else from `NVH_TIMEOUT_MULTIPLIER` in `environment`,
    /// else 1. A malformed or non-positive environment value is an error naming it.
    public static func multiplier(option: Double?, environment: [String: String]) throws(TimeoutPolicyError) -> Double {
        if let option { return option }
        guard let text = environment["NVH_TIMEOUT_MULTIPLIER"], !text.isEmpty else { return 1 }
        guard let value = Double(text), value.isFinite, value > 0, value <= 1000 else {
            throw TimeoutPolicyError(message: "NVH_TIMEOUT_MULTIPLIER must be a number in (0, 1000], got '\(text)'")
        }
        return value
    }

    /// Seconds the watchdog gives a variant with this budget.
    public func seconds(for budget: TimeBudget) -> Double {
        override ?? budget.seconds * multiplier
    }

    /// "timeout 120 s (budget 30 s × 4)" or "timeout 10 s (--timeout; budget 30 s)".
    public func describe(_ budget: TimeBudget) -> String {
        let t = TimeBudget(seconds: seconds(for: budget))
        if override != nil { return "timeout \(t) (--timeout; budget \(budget))" }
        return multiplier == 1 ? "timeout \(t) (budget)" : "timeout \(t) (budget \(budget) × \(multiplier))"
    }

    public func timeout(for budget: TimeBudget) -> Duration {
        .milliseconds(Int64((seconds(for: budget) * 1000).rounded()))
    }
}

/// A bad `NVH_TIMEOUT_MULTIPLIER`.
public struct TimeoutPolicyError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
