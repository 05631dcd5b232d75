/// Where one vCPU is in its expected events: each exit must be the next event, except that an
/// event that `repeats` matches any number of exits (zero included) before the ones after it.
public struct VCPUEventCursor: Sendable {
    public let events: [ExpectedEvent]
    public private(set) var next = 0

    public init(_ events: [ExpectedEvent]) { self.events = events }

    /// The event this exit is: a repeating event when `matches` says the exit is another
    /// occurrence of it (it stays current), else the next event after the repeating ones;
    /// nil when every event has been seen.
    public mutating func take(matches: (ExpectedEvent) -> Bool) -> ExpectedEvent? {
        while next < events.count {
            let e = events[next]
            if e.repeats {
                if matches(e) { return e }
                next += 1
                continue
            }
            next += 1
            return e
        }
        return nil
    }

    /// The events that had to happen and did not (repeating events may happen zero times).
    public var missing: [ExpectedEvent] { events[next...].filter { !$0.repeats } }
}
