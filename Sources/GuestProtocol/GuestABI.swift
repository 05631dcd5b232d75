/// The guest <-> host ABI, defined once here and mirrored in `guest/include/mailbox.h`
/// (a test parses that header and pins every value below to it). Offsets are in bytes,
/// fields little-endian. See the header for what each field means to the payload.
public enum GuestABI {
    // MARK: Payload image header (image offset 0)
    public static let imageMagic: UInt64 = 0x444C_5941_5048_4E56  // bytes "VNHPAYLD"
    public static let imageVersion: UInt64 = 1
    public static let imageOffMagic = 0x08
    public static let imageOffVersion = 0x10
    public static let imageOffHeaderSize = 0x14
    public static let imageOffEL2Entry = 0x18
    public static let imageOffNestedEntry = 0x20
    public static let imageOffEL2Vectors = 0x28
    public static let imageOffEL1Vectors = 0x30
    public static let imageHeaderSize = 0x38
    public static let imageAlignment: UInt64 = 0x10000

    // MARK: Configuration block
    public static let configMagic: UInt32 = 0x4E56_4843
    public static let configVersion: UInt32 = 2
    public static let cfgOffMagic = 0
    public static let cfgOffVersion = 4
    public static let cfgOffFlags = 8
    public static let cfgOffDoorbell = 16
    public static let cfgOffMessage = 24
    public static let cfgOffEL2SP = 32
    public static let cfgOffVTCR = 40
    public static let cfgOffVTTBR = 48
    public static let cfgOffHCRSet = 56
    public static let cfgOffHCRClear = 64
    public static let cfgOffNestedSP = 72
    public static let cfgOffOps = 80
    public static let cfgOffOpCount = 88
    public static let cfgOffResults = 96
    public static let configSize = 104
    public static let cfgFlagHello: UInt64 = 0x1
    /// Host self-test: the payload writes xorshift32 words (seed: flags[63:32]) over its
    /// message page instead of HELLO, rings the doorbell with sequence number 1 and halts.
    public static let cfgFlagGarbage: UInt64 = 0x2
    public static let cfgGarbageSeedShift = 32

    // MARK: Message (payload -> host)
    public static let messageMagic: UInt32 = 0x4D48_564E
    public static let messageVersion: UInt32 = 1
    public static let msgOffMagic = 0
    public static let msgOffVersion = 4
    public static let msgOffKind = 8
    public static let msgOffVector = 12
    public static let msgOffSeq = 16
    public static let msgOffESR = 24
    public static let msgOffFAR = 32
    public static let msgOffHPFAR = 40
    public static let msgOffELR = 48
    public static let msgOffSPSR = 56
    public static let msgOffOpIndex = 64
    public static let msgOffGPRs = 72
    public static let msgGPRCount = 31

    // MARK: Reply (host -> payload)
    public static let rplOffSeq = 320
    public static let rplOffAction = 328
    public static let rplOffFlags = 332
    public static let rplOffELR = 336
    public static let rplOffVTTBR = 344
    public static let rplOffVTCR = 352
    public static let rplOffHCR = 360
    public static let rplOffTLBICount = 368
    public static let rplOffTLBI = 376
    public static let rplTLBIEntrySize = 16
    public static let rplTLBIMax = 16
    public static let rplOffVNCR = 632
    public static let messageSize = 640

    public static let rplFlagVTTBR: UInt32 = 0x1
    public static let rplFlagVTCR: UInt32 = 0x2
    public static let rplFlagHCR: UInt32 = 0x4
    public static let rplFlagGPRs: UInt32 = 0x8
    public static let rplFlagVNCR: UInt32 = 0x10

    // MARK: Ops and results
    public static let opSize = 32
    public static let opOffKind = 0
    public static let opOffRepeat = 4
    public static let opOffAddress = 8
    public static let opOffValue = 16
    public static let opOffAux = 24
    /// Op kind in [15:0] of the kind word; flags above it.
    public static let opKindMask: UInt32 = 0xFFFF
    /// Compare x11 with the op's value after every repetition and count the mismatches.
    public static let opFlagCheck: UInt32 = 0x1_0000
    public static let resultSize = 32
    public static let resultOffValue = 0
    public static let resultOffCount = 8
    public static let resultOffMismatches = 16
    public static let resultOffFirstMismatch = 24
    /// The record a WATCH64 op writes (`WatchRecord`).
    public static let watchOffFirst = 0
    public static let watchOffSecond = 8
    public static let watchOffChanges = 16
    public static let watchOffStale = 24
    public static let watchOffReads = 32
    public static let watchOffFlagged = 40
    public static let watchSize = 48

    // MARK: Reserved hvc immediates
    public static let hvcOp: UInt16 = 0x0001
    public static let hvcDone: UInt16 = 0xD0DE
    public static let hvcEL1Exception: UInt16 = 0xE1E1
    public static let hvcBadOp: UInt16 = 0x0BAD
    /// Answered by the vEL2 monitor without a message: AT S12E1R/W of x0, PAR_EL1 in x0.
    public static let hvcATS12E1R: UInt16 = 0xA712
    public static let hvcATS12E1W: UInt16 = 0xA713
    /// Answered by the vEL2 monitor without a message: a 64-bit load of x0 at vEL2, the value in x0.
    public static let hvcEL2Load64: UInt16 = 0xE210

    public static let frameSize = 256

    /// Every `NVH_*` constant of `guest/include/mailbox.h`, by its C name, with the Swift
    /// value it must equal. The pinning test checks this list against the header both ways.
    public static var headerConstants: [(name: String, value: UInt64)] {
        var list: [(String, UInt64)] = [
            ("NVH_IMAGE_MAGIC", imageMagic), ("NVH_IMAGE_VERSION", imageVersion),
            ("NVH_IMAGE_OFF_MAGIC", u(imageOffMagic)), ("NVH_IMAGE_OFF_VERSION", u(imageOffVersion)),
            ("NVH_IMAGE_OFF_HEADER_SIZE", u(imageOffHeaderSize)),
            ("NVH_IMAGE_OFF_EL2_ENTRY", u(imageOffEL2Entry)),
            ("NVH_IMAGE_OFF_NESTED_ENTRY", u(imageOffNestedEntry)),
            ("NVH_IMAGE_OFF_EL2_VECTORS", u(imageOffEL2Vectors)),
            ("NVH_IMAGE_OFF_EL1_VECTORS", u(imageOffEL1Vectors)),
            ("NVH_IMAGE_HEADER_SIZE", u(imageHeaderSize)), ("NVH_IMAGE_ALIGNMENT", imageAlignment),
            ("NVH_CONFIG_MAGIC", UInt64(configMagic)), ("NVH_CONFIG_VERSION", UInt64(configVersion)),
            ("NVH_CFG_OFF_MAGIC", u(cfgOffMagic)), ("NVH_CFG_OFF_VERSION", u(cfgOffVersion)),
            ("NVH_CFG_OFF_FLAGS", u(cfgOffFlags)), ("NVH_CFG_OFF_DOORBELL", u(cfgOffDoorbell)),
            ("NVH_CFG_OFF_MESSAGE", u(cfgOffMessage)), ("NVH_CFG_OFF_EL2_SP", u(cfgOffEL2SP)),
            ("NVH_CFG_OFF_VTCR", u(cfgOffVTCR)), ("NVH_CFG_OFF_VTTBR", u(cfgOffVTTBR)),
            ("NVH_CFG_OFF_HCR_SET", u(cfgOffHCRSet)), ("NVH_CFG_OFF_HCR_CLEAR", u(cfgOffHCRClear)),
            ("NVH_CFG_OFF_NESTED_SP", u(cfgOffNestedSP)), ("NVH_CFG_OFF_OPS", u(cfgOffOps)),
            ("NVH_CFG_OFF_OP_COUNT", u(cfgOffOpCount)), ("NVH_CFG_OFF_RESULTS", u(cfgOffResults)),
            ("NVH_CONFIG_SIZE", u(configSize)), ("NVH_CFG_FLAG_HELLO", cfgFlagHello),
            ("NVH_CFG_FLAG_GARBAGE", cfgFlagGarbage), ("NVH_CFG_GARBAGE_SEED_SHIFT", u(cfgGarbageSeedShift)),
            ("NVH_MSG_MAGIC", UInt64(messageMagic)), ("NVH_MSG_VERSION", UInt64(messageVersion)),
            ("NVH_MSG_OFF_MAGIC", u(msgOffMagic)), ("NVH_MSG_OFF_VERSION", u(msgOffVersion)),
            ("NVH_MSG_OFF_KIND", u(msgOffKind)), ("NVH_MSG_OFF_VECTOR", u(msgOffVector)),
            ("NVH_MSG_OFF_SEQ", u(msgOffSeq)), ("NVH_MSG_OFF_ESR", u(msgOffESR)),
            ("NVH_MSG_OFF_FAR", u(msgOffFAR)), ("NVH_MSG_OFF_HPFAR", u(msgOffHPFAR)),
            ("NVH_MSG_OFF_ELR", u(msgOffELR)), ("NVH_MSG_OFF_SPSR", u(msgOffSPSR)),
            ("NVH_MSG_OFF_OP_INDEX", u(msgOffOpIndex)), ("NVH_MSG_OFF_GPRS", u(msgOffGPRs)),
            ("NVH_MSG_GPR_COUNT", u(msgGPRCount)),
            ("NVH_RPL_OFF_SEQ", u(rplOffSeq)), ("NVH_RPL_OFF_ACTION", u(rplOffAction)),
            ("NVH_RPL_OFF_FLAGS", u(rplOffFlags)), ("NVH_RPL_OFF_ELR", u(rplOffELR)),
            ("NVH_RPL_OFF_VTTBR", u(rplOffVTTBR)), ("NVH_RPL_OFF_VTCR", u(rplOffVTCR)),
            ("NVH_RPL_OFF_HCR", u(rplOffHCR)), ("NVH_RPL_OFF_TLBI_COUNT", u(rplOffTLBICount)),
            ("NVH_RPL_OFF_TLBI", u(rplOffTLBI)), ("NVH_RPL_TLBI_ENTRY_SIZE", u(rplTLBIEntrySize)),
            ("NVH_RPL_TLBI_MAX", u(rplTLBIMax)), ("NVH_RPL_OFF_VNCR", u(rplOffVNCR)),
            ("NVH_MESSAGE_SIZE", u(messageSize)),
            ("NVH_RPL_FLAG_VTTBR", UInt64(rplFlagVTTBR)), ("NVH_RPL_FLAG_VTCR", UInt64(rplFlagVTCR)),
            ("NVH_RPL_FLAG_HCR", UInt64(rplFlagHCR)), ("NVH_RPL_FLAG_GPRS", UInt64(rplFlagGPRs)),
            ("NVH_RPL_FLAG_VNCR", UInt64(rplFlagVNCR)),
            ("NVH_OP_SIZE", u(opSize)), ("NVH_OP_OFF_KIND", u(opOffKind)),
            ("NVH_OP_OFF_REPEAT", u(opOffRepeat)), ("NVH_OP_OFF_ADDRESS", u(opOffAddress)),
            ("NVH_OP_OFF_VALUE", u(opOffValue)), ("NVH_OP_OFF_AUX", u(opOffAux)),
            ("NVH_RESULT_SIZE", u(resultSize)), ("NVH_RESULT_OFF_VALUE", u(resultOffValue)),
            ("NVH_RESULT_OFF_COUNT", u(resultOffCount)),
            ("NVH_RESULT_OFF_MISMATCHES", u(resultOffMismatches)), ("NVH_RESULT_OFF_FIRST_MISMATCH", u(resultOffFirstMismatch)),
            ("NVH_OP_KIND_MASK", UInt64(opKindMask)), ("NVH_OP_FLAG_CHECK", UInt64(opFlagCheck)),
            ("NVH_WATCH_OFF_FIRST", u(watchOffFirst)), ("NVH_WATCH_OFF_SECOND", u(watchOffSecond)),
            ("NVH_WATCH_OFF_CHANGES", u(watchOffChanges)), ("NVH_WATCH_OFF_STALE", u(watchOffStale)),
            ("NVH_WATCH_OFF_READS", u(watchOffReads)), ("NVH_WATCH_OFF_FLAGGED", u(watchOffFlagged)),
            ("NVH_WATCH_SIZE", u(watchSize)),
            ("NVH_HVC_OP", UInt64(hvcOp)), ("NVH_HVC_DONE", UInt64(hvcDone)),
            ("NVH_HVC_EL1_EXCEPTION", UInt64(hvcEL1Exception)), ("NVH_HVC_BAD_OP", UInt64(hvcBadOp)),
            ("NVH_HVC_AT_S12E1R", UInt64(hvcATS12E1R)), ("NVH_HVC_AT_S12E1W", UInt64(hvcATS12E1W)),
            ("NVH_HVC_EL2_LOAD64", UInt64(hvcEL2Load64)),
            ("NVH_FRAME_SIZE", u(frameSize)),
            ("NVH_OP_KIND_COUNT", UInt64(OpKind.allCases.count)),
            ("NVH_SYSREG_COUNT", UInt64(NestedSystemRegister.allCases.count)),
        ]
        for kind in MessageKind.allCases { list.append(("NVH_KIND_\(kind.cName)", UInt64(kind.rawValue))) }
        for action in ReplyAction.allCases { list.append(("NVH_ACTION_\(action.cName)", UInt64(action.rawValue))) }
        for op in TLBIOperation.Code.allCases { list.append(("NVH_TLBI_\(op.cName)", op.rawValue)) }
        for op in OpKind.allCases { list.append(("NVH_OP_\(op.cName)", UInt64(op.rawValue))) }
        for reg in NestedSystemRegister.allCases { list.append(("NVH_SYSREG_\(reg.cName)", reg.rawValue)) }
        return list
    }
    private static func u(_ v: Int) -> UInt64 { UInt64(v) }
}

/// What a message from the payload reports (NVH_KIND_*).
public enum MessageKind: UInt32, CaseIterable, Sendable {
    case hello = 1
    case trap, done, el1Exception, badOp, ack, panic, badReply, badConfig
    public var cName: String {
        switch self {
        case .hello: "HELLO"
        case .trap: "TRAP"
        case .done: "DONE"
        case .el1Exception: "EL1_EXCEPTION"
        case .badOp: "BAD_OP"
        case .ack: "ACK"
        case .panic: "PANIC"
        case .badReply: "BAD_REPLY"
        case .badConfig: "BAD_CONFIG"
        }
    }
}

/// What the payload does after the host's reply (NVH_ACTION_*).
public enum ReplyAction: UInt32, CaseIterable, Sendable {
    /// eret with ELR_EL2 unchanged: retries a faulting access, continues after an hvc.
    case resume = 1
    /// ELR_EL2 += 4.
    case skip
    /// ELR_EL2 = the reply's ELR.
    case setELR
    /// Halt at vEL2.
    case stop
    /// Perform the TLBIs, send an ACK message, wait for the next reply (break-before-make).
    case tlbiThenAck
    public var cName: String {
        switch self {
        case .resume: "RESUME"
        case .skip: "SKIP"
        case .setELR: "SET_ELR"
        case .stop: "STOP"
        case .tlbiThenAck: "TLBI_THEN_ACK"
        }
    }
}

/// System registers the SYSREG_WRITE/READ ops select (NVH_SYSREG_*): the nested guest's EL1
/// registers, and TPIDR_EL2, which EL1 reaches only with HCR_EL2.NV = 1 (with NV2 = 1 it is
/// offset 0x90 of the VNCR page, Arm ARM D8.11 "Nested virtualization", VNCR_EL2).
public enum NestedSystemRegister: UInt64, CaseIterable, Sendable {
    case sctlrEL1 = 0
    case tcrEL1, ttbr0EL1, ttbr1EL1, mairEL1, tpidrEL2
    public var cName: String {
        switch self {
        case .sctlrEL1: "SCTLR_EL1"
        case .tcrEL1: "TCR_EL1"
        case .ttbr0EL1: "TTBR0_EL1"
        case .ttbr1EL1: "TTBR1_EL1"
        case .mairEL1: "MAIR_EL1"
        case .tpidrEL2: "TPIDR_EL2"
        }
    }
}
