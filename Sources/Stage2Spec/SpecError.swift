/// A validation failure naming the spec field, e.g. `ops[1].size`.
public struct SpecError: Error, CustomStringConvertible {
    public var field: String
    public var problem: String
    public var description: String { field.isEmpty ? problem : "\(field): \(problem)" }
}
