/// One value on the heap, read and written in place without the dynamic exclusivity checks a
/// class's stored property costs (the run loop's timing meter, touched on every exit).
/// Not thread-safe: one thread uses it at a time.
public final class PlainCell<Value> {
    @usableFromInline let pointer: UnsafeMutablePointer<Value>

    public init(_ value: Value) {
        pointer = UnsafeMutablePointer<Value>.allocate(capacity: 1)
        // SAFETY: freshly allocated for one Value, initialized once.
        pointer.initialize(to: value)
    }

    deinit {
        // SAFETY: initialized in init, deinitialized and freed once here.
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }

    /// `_read`/`_modify` (underscored): yield the stored value in place, with no copy and no
    /// exclusivity check, which is what the cell is for; a get/set pair would copy it.
    @inlinable public var value: Value {
        // SAFETY: the pointer holds one initialized Value for the cell's whole life.
        _read { yield pointer.pointee }
        // SAFETY: as above; the caller's access is the only one (not thread-safe by contract).
        _modify { yield &pointer.pointee }
    }
}
