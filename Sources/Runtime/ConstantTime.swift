/// Compares two byte strings without an early exit, so the time taken does not reveal where
/// they differ (token digests, signatures). Only the lengths, which are public, may end it
/// early.
public func constantTimeEquals<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for (x, y) in zip(a, b) { difference |= x ^ y }
    return difference == 0
}
