import GuestProtocol

/// An op's expected result: a value, or "unchecked" (e.g. a load the host skips).
public enum ResultSpec: Decodable, Sendable, Equatable {
    case value(Expression)
    case unchecked

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self), s == "unchecked" {
            self = .unchecked
            return
        }
        self = .value(try Expression(from: decoder))
    }
}
