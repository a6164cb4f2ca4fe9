import Foundation

/// A child server's start-up line (`… listening on http://127.0.0.1:PORT …`), read from its
/// output pipe, and the port in it: how tests find a child started with port 0.
public enum Banner {
    /// Reads `handle` until a line is complete (or it ends); everything read so far.
    public static func firstLine(of handle: FileHandle) -> String {
        var text = ""
        while !text.contains("\n") {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return text
    }

    /// The port after `http://127.0.0.1:` in `text`.
    public static func port(in text: String) -> UInt16? {
        guard let range = text.range(of: "http://127.0.0.1:") else { return nil }
        return UInt16(text[range.upperBound...].prefix { $0.isNumber })
    }
}
