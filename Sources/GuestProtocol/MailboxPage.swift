/// A message page the host answers in place: little-endian stores at byte offsets, bounds-checked
/// by the conformer (a view of guest memory, so the stores do not mutate the view itself).
public protocol MailboxPage: MailboxBytes {
    func store64(_ value: UInt64, at offset: Int)
    func store32(_ value: UInt32, at offset: Int)
}
