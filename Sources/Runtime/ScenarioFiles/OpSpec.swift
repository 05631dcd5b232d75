import GuestProtocol

/// One op of the nested guest's list and the events it must raise, in order.
public struct OpSpec: Decodable, Sendable {
    /// "load", "store", "exec", "hvc", "smc", "ldar", "ldadd", "cas", "sysregWrite",
    /// "sysregRead", "tlbiVMALLE1", "barrier", "nop", "atS12E1R", "atS12E1W", "el2Load".
    public var op: String
    /// Access size of a load or store: 1, 2, 4 or 8.
    public var bytes: Int?
    /// The address (an IPA while the nested stage 1 is off).
    public var at: Expression?
    public var value: Expression?
    public var aux: Expression?
    /// sysregWrite / sysregRead: the nested guest's EL1 register by name ("SCTLR_EL1", "TCR_EL1",
    /// "TTBR0_EL1", "TTBR1_EL1", "MAIR_EL1", or "TPIDR_EL2" under HCR_EL2.NV), instead of its number
    /// in `aux`.
    public var register: String?
    public var `repeat`: Int?
    /// What the op's result (x11, or x0 for exec/hvc/smc) must be; by default derived.
    public var result: ResultSpec?
    public var raises: [EventSpec]
    /// watch: the flag it polls (it stops once the flag reads 2), the record it writes
    /// (`WatchRecord`), the reads it makes after that, and the values it must see: `old`
    /// first, then `new` and nothing else.
    public var watch: (flag: Expression, record: Expression, tail: Expression, old: Expression, new: Expression)?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case op, bytes, at, value, aux, register, `repeat`, result, raises
        case flag, record, tail, old, new
    }

    static let kinds: [String: OpKind] = [
        "nop": .nop, "exec": .exec, "hvc": .hvc, "smc": .smc, "ldar": .ldar64, "ldadd": .ldadd64, "cas": .cas64,
        "sysregWrite": .sysregWrite, "sysregRead": .sysregRead, "tlbiVMALLE1": .tlbiVMALLE1, "barrier": .barrier,
        "atS12E1R": .atS12E1R, "atS12E1W": .atS12E1W, "el2Load": .el2Load64,
    ]
    static let opNames = ["load", "store", "watch"] + kinds.keys.sorted()

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        op = try c.decode(String.self, forKey: .op)
        guard Self.opNames.contains(op) else {
            throw DecodingError.dataCorruptedError(
                forKey: .op, in: c,
                debugDescription: "op '\(op)'; expected one of: " + Self.opNames.joined(separator: ", "))
        }
        bytes = try c.decodeIfPresent(Int.self, forKey: .bytes)
        if op == "load" || op == "store" {
            guard let bytes, [1, 2, 4, 8].contains(bytes) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .bytes, in: c,
                    debugDescription: "a \(op) needs 'bytes': 1, 2, 4 or 8" + (bytes.map { " (got \($0))" } ?? ""))
            }
        } else if bytes != nil {
            throw DecodingError.dataCorruptedError(forKey: .bytes, in: c, debugDescription: "'bytes' is only for load and store")
        }
        at = try c.decodeIfPresent(Expression.self, forKey: .at)
        if at == nil, ["load", "store", "exec", "ldar", "ldadd", "cas", "atS12E1R", "atS12E1W", "el2Load", "watch"].contains(op) {
            throw DecodingError.keyNotFound(
                CodingKeys.at,
                DecodingError.Context(
                    codingPath: c.codingPath, debugDescription: "a \(op) needs 'at': the address it accesses"))
        }
        value = try c.decodeIfPresent(Expression.self, forKey: .value)
        if value == nil, op == "store" {
            throw DecodingError.keyNotFound(
                CodingKeys.value,
                DecodingError.Context(
                    codingPath: c.codingPath, debugDescription: "a store needs 'value'"))
        }
        aux = try c.decodeIfPresent(Expression.self, forKey: .aux)
        register = try c.decodeIfPresent(String.self, forKey: .register)
        if let register {
            guard op == "sysregWrite" || op == "sysregRead" else {
                throw DecodingError.dataCorruptedError(
                    forKey: .register, in: c, debugDescription: "'register' is only for sysregWrite and sysregRead")
            }
            guard aux == nil else {
                throw DecodingError.dataCorruptedError(forKey: .register, in: c, debugDescription: "give 'register' or 'aux', not both")
            }
            guard let r = NestedSystemRegister.allCases.first(where: { $0.cName == register }) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .register, in: c,
                    debugDescription: "register '\(register)'; expected one of: "
                        + NestedSystemRegister.allCases.map(\.cName).joined(separator: ", "))
            }
            aux = Expression(String(r.rawValue))
        }
        self.repeat = try c.decodeIfPresent(Int.self, forKey: .repeat)
        if let r = self.repeat, !(1...1_000_000).contains(r) {
            throw DecodingError.dataCorruptedError(forKey: .repeat, in: c, debugDescription: "repeat \(r); expected 1 to 1000000")
        }
        result = try c.decodeIfPresent(ResultSpec.self, forKey: .result)
        raises = try c.decodeIfPresent([EventSpec].self, forKey: .raises) ?? []
        let watchKeys: [CodingKeys] = [.flag, .record, .tail, .old, .new]
        if op == "watch" {
            for k in watchKeys where !c.contains(k) {
                throw DecodingError.keyNotFound(
                    k,
                    DecodingError.Context(
                        codingPath: c.codingPath, debugDescription: "a watch needs 'at', 'flag', 'record', 'tail', 'old' and 'new'"))
            }
            for k in [CodingKeys.value, .aux, .repeat, .result] where c.contains(k) {
                throw DecodingError.dataCorruptedError(
                    forKey: k, in: c, debugDescription: "'\(k.stringValue)' is not for a watch (its result is 'new')")
            }
            watch = (
                try c.decode(Expression.self, forKey: .flag), try c.decode(Expression.self, forKey: .record),
                try c.decode(Expression.self, forKey: .tail), try c.decode(Expression.self, forKey: .old),
                try c.decode(Expression.self, forKey: .new)
            )
        } else if let k = watchKeys.first(where: { c.contains($0) }) {
            throw DecodingError.dataCorruptedError(forKey: k, in: c, debugDescription: "'\(k.stringValue)' is only for a watch")
        }
    }

    /// The payload's op kind.
    var kind: OpKind {
        switch op {
        case "load": [1: .load8, 2: .load16, 4: .load32, 8: .load64][bytes ?? 8]!
        case "store": [1: .store8, 2: .store16, 4: .store32, 8: .store64][bytes ?? 8]!
        case "watch": .watch64
        default: Self.kinds[op]!
        }
    }
}
