/// Why an expression has no value.
public struct ExpressionError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
