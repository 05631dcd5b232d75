import Stage2

/// Models of the architecture the scenario builders use to work expectations out
/// independently of the harness's own table code.
public enum Stage2FaultModel {
    /// `ic`-free code the host plants for EXEC ops: `movz x0, #imm; ret`
    /// (MOVZ 64-bit: 0xD2800000 | imm16 << 5 | Rd, Arm ARM C6.2.228; RET: 0xD65F03C0, C6.2.254).
    public static func plantedCode(returning imm: UInt16) -> [UInt8] {
        let movz: UInt32 = 0xD280_0000 | UInt32(imm) << 5
        let ret: UInt32 = 0xD65F_03C0
        return [movz, ret].flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
    }

    /// The level of the translation fault a walk of `ipa` stops at, given the leaf ranges
    /// mapped so far (nil: mapped). At each level from the start level the entry for `ipa`
    /// is valid only if some mapped range intersects the span that entry covers; a range
    /// covering the whole span means the IPA is mapped (block or full table below).
    /// (Arm ARM D8.2 "Translation tables and the translation process"; independent of the
    /// builder's own code so it can check it.)
    public static func translationFaultLevel(
        ipa: UInt64, mapped: [(start: UInt64, size: UInt64)],
        granule: Granule, startLevel: Int
    ) -> Int? {
        for level in startLevel...3 {
            let span: UInt64 = 1 << UInt64(granule.entryShift(atLevel: level))
            let lo = ipa & ~(span - 1)
            let hi = lo + span
            let hits = mapped.filter { $0.start < hi && lo < $0.start + $0.size }
            if hits.isEmpty { return level }
            if hits.contains(where: { $0.start <= lo && $0.start + $0.size >= hi }) { return nil }
        }
        return nil
    }
}
