import Crypto

/// Random bearer tokens: a prefix that says what they are, then 32 random bytes in hex.
/// Only their SHA-256 digest is ever stored or compared (in constant time), so neither a
/// stored copy nor a comparison's timing can leak one.
public enum Tokens {
    public static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var characters: [UInt8] = []
        for _ in 0..<32 {
            let byte = UInt8.random(in: 0...255, using: &generator)
            characters.append(hex[Int(byte >> 4)])
            characters.append(hex[Int(byte & 0xF)])
        }
        return prefix + String(decoding: characters, as: UTF8.self)
    }

    public static func digest(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(token.utf8)))
    }
}
