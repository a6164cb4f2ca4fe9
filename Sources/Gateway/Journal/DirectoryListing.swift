#if canImport(Glibc)
import Glibc
#endif

/// The names of the entries in `directory` (`.` and `..` included), in no particular order.
func fileNames(in directory: String) throws(JournalError) -> [String] {
    guard let dir = opendir(directory) else { throw JournalError.failed("opendir", errno, file: directory) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
    }
    return names
}
