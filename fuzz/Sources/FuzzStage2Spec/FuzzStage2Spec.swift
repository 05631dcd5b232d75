import AArch64
import Stage2
import Stage2Spec

/// libFuzzer entry: one input is one `stage2 build` spec. It goes through the strict JSON
/// reader, the spec checks and the table builder (`Stage2Build`, the code of `stage2 build`);
/// a built pool is then dumped and walked (`stage2 dump`/`walk`) at every op's first and last
/// IPA. A refusal is a normal outcome; a crash, a hang or a broken invariant is a finding.
/// Invariant: tables the builder wrote form a tree, so their dump is never cut short.
func fuzzStage2Spec(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // libFuzzer hands a pointer and a length: copied once into an array.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let spec = try? Stage2BuildSpec(json: bytes) else { return 0 }
    // Pools over 4 MiB are zero-filled host memory and nothing else: skipped for speed.
    guard spec.tableBytes <= 4 << 20 else { return 0 }
    guard let built = try? Stage2Build(spec: bytes) else { return 0 }
    guard let parameters = try? Stage2WalkParameters(vtcr: VTCR(rawValue: built.vtcr), vttbr: built.vttbr, xnx: true) else {
        fatalError("the builder's own VTCR_EL2/VTTBR_EL2 were refused: \(built.result)")
    }
    let limit = Int(spec.tableBytes / 8) + (1 << 16)
    let dump = Stage2Dump(parameters: parameters, memory: built.memory, limit: limit)
    if dump.truncated { fatalError("dump of built tables truncated after \(limit) descriptors") }
    _ = dump.text(vtcr: built.vtcr, vttbr: built.vttbr)
    _ = dump.json(vtcr: built.vtcr, vttbr: built.vttbr)
    for op in spec.ops {
        let (ipa, length): (UInt64, UInt64) =
            switch op {
            case let .map(ipa, _, size, _), let .unmap(ipa, size), let .protectPermissions(ipa, size, _),
                let .protectAttributes(ipa, size, _):
                (ipa, size)
            }
        for a in [ipa, ipa &+ length &- 1] {
            for access in [Stage2Access.read, .write, .fetchEL1, .fetchEL0] {
                _ = parameters.walk(IPA(a), access: access, memory: built.memory).description
            }
        }
    }
    return 0
}
