/// A 64-bit hash that is the same in every process and on every machine, for what is written
/// to disk (index files, snapshots). Swift's `Hasher` is seeded per process, so it cannot be.
///
/// FNV-1a over the bytes, then the SplitMix64 finalizer so every input bit reaches every
/// output bit (FNV alone leaves the low bits weak, and index slots are chosen by them). Not
/// keyed: where a collision matters, the caller confirms the match against the stored value.
public enum StableHash {
    @inlinable
    public static func of<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 30
        hash &*= 0xbf58_476d_1ce4_e5b9
        hash ^= hash >> 27
        hash &*= 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        return hash
    }

    @inlinable
    public static func of(_ text: String) -> UInt64 {
        of(text.utf8)
    }
}
