import AArch64
import Stage2

/// libFuzzer entry: one input is a table image with its registers, as `stage2 dump` and
/// `stage2 walk` take them. Layout (little-endian): VTCR_EL2 [0,8), VTTBR_EL2 [8,16), the
/// image's guest-physical base [16,24), a flags byte [24] (bit 0: walk without FEAT_XNX;
/// bits 1-2: the access), then the image. Registers the walker refuses end the input; the rest
/// is dumped (text and JSON, capped as the command caps it, with a smaller margin) and walked at every dump line's first and
/// last IPA and at IPAs read from the image's first words.
func fuzzStage2Image(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 25 else { return 0 }
    // libFuzzer hands a pointer and a length: copied once into an array.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    func word(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) } }
    let vtcr = word(0)
    let vttbr = word(8)
    let base = word(16)
    let flags = bytes[24]
    let image = Array(bytes[25...])
    let memory = ByteBufferTableMemory(base: PhysicalAddress(base), bytes: image)
    guard let parameters = try? Stage2WalkParameters(vtcr: VTCR(rawValue: vtcr), vttbr: vttbr, xnx: flags & 1 == 0) else { return 0 }
    // The command allows 65,536 descriptors beyond the image's own; 4,096 here reaches the same
    // cut-off code at a fraction of the time per looping input.
    let limit = memory.withUnsafeBytes { $0.count } / 8 + 4096
    let dump = Stage2Dump(parameters: parameters, memory: memory, limit: limit)
    _ = dump.text(vtcr: vtcr, vttbr: vttbr)
    _ = dump.json(vtcr: vtcr, vttbr: vttbr)
    let access = [Stage2Access.read, .write, .fetchEL1, .fetchEL0][Int(flags >> 1) & 3]
    var ipas: [UInt64] = []
    for e in dump.entries.prefix(64) { ipas += [e.ipa, e.ipa &+ e.size &- 1] }
    for i in 0..<min(4, image.count / 8) { ipas.append(word(25 + 8 * i)) }
    for ipa in ipas { _ = parameters.walk(IPA(ipa), access: access, memory: memory).description }
    return 0
}
