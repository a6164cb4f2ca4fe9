/// Standard base64 (RFC 4648 §4, `+/` alphabet, `=` padding), which is what Standard Webhooks
/// uses for both secrets and signatures. Written here rather than taken from Foundation so the
/// delivery path stays Foundation-free and the decoder's strictness is ours to state. The one
/// Base64 of the project: secrets are generated, validated and decoded with it.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Why a text is not base64. Positions only, never the offending character: the text may
    /// be a secret (DESIGN invariant 7).
    public enum DecodingError: Error, Equatable, CustomStringConvertible {
        case length(Int)
        case character(offset: Int)
        case padding(offset: Int)

        /// The same error with offsets counted from `shift` characters earlier, for text
        /// that was cut out of a longer input.
        public func shifted(by shift: Int) -> DecodingError {
            switch self {
            case .length: self
            case .character(let offset): .character(offset: offset + shift)
            case .padding(let offset): .padding(offset: offset + shift)
            }
        }

        public var description: String {
            switch self {
            case .length(let count):
                "its length (\(count) characters) is not a multiple of 4"
            case .character(let offset):
                "the character at offset \(offset) is not in the base64 alphabet (A-Z, a-z, 0-9, '+', '/')"
            case .padding(let offset):
                "the '=' padding at offset \(offset) is misplaced (only 1 or 2 may end the text)"
            }
        }
    }

    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        var output = [UInt8]()
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(alphabet[Int(chunk >> 12 & 0x3F)])
            output.append(alphabet[Int(chunk >> 6 & 0x3F)])
            output.append(alphabet[Int(chunk & 0x3F)])
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let chunk = UInt32(bytes[index]) << 16
            output.append(alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(alphabet[Int(chunk >> 12 & 0x3F)])
            output.append(UInt8(ascii: "="))
            output.append(UInt8(ascii: "="))
        case 2:
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            output.append(alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(alphabet[Int(chunk >> 12 & 0x3F)])
            output.append(alphabet[Int(chunk >> 6 & 0x3F)])
            output.append(UInt8(ascii: "="))
        default:
            break
        }
        return String(decoding: output, as: UTF8.self)
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    /// Decodes padded standard base64. Unused low bits of the last group are ignored, as Go's
    /// `base64.StdEncoding` (which the reference libraries' Go port uses) ignores them, so a
    /// secret that any of those libraries accepts is accepted here too.
    public static func decode(_ text: some StringProtocol) throws(DecodingError) -> [UInt8] {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { throw .length(input.count) }
        var output = [UInt8]()
        output.reserveCapacity(input.count / 4 * 3)
        var group: UInt32 = 0
        var padding = 0
        for (offset, byte) in input.enumerated() {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="):
                // Padding may only fill the last one or two places of the last group.
                let fromEnd = input.count - offset
                guard fromEnd <= 2, fromEnd == 1 || input[input.count - 1] == UInt8(ascii: "=") else {
                    throw .padding(offset: offset)
                }
                padding += 1
                value = 0
            default:
                throw .character(offset: offset)
            }
            group = group << 6 | value
            if offset % 4 == 3 {
                output.append(UInt8(truncatingIfNeeded: group >> 16))
                if padding < 2 { output.append(UInt8(truncatingIfNeeded: group >> 8)) }
                if padding < 1 { output.append(UInt8(truncatingIfNeeded: group)) }
                group = 0
            }
        }
        return output
    }
}
