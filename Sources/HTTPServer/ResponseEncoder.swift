#if canImport(Glibc)
import Glibc
#endif

/// Writes responses in HTTP/1.1 wire format. The server owns `Content-Length`, `Date` and
/// `Connection`; a handler's own values for those are ignored so framing stays correct.
enum ResponseEncoder {
    static func encode(
        _ response: HTTPResponse, into output: inout [UInt8], date: [UInt8],
        requestID: (id: RequestID, prefix: RequestID.Generator.Prefix)? = nil,
        closing: Bool, keepAliveHTTP10: Bool, headRequest: Bool
    ) {
        output.append(contentsOf: statusLine(response.status))
        output.append(contentsOf: date)
        if let requestID { requestID.id.appendHeader(to: &output, prefix: requestID.prefix) }
        let forbidsBody = HTTPStatus.forbidsBody(response.status)
        if !forbidsBody {
            output.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(response.body.count, to: &output)
            output.append(contentsOf: crlf)
        }
        if closing {
            output.append(contentsOf: "Connection: close\r\n".utf8)
        } else if keepAliveHTTP10 {
            output.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        for field in response.headers {
            if isServerOwned(field.name) { continue }
            output.append(contentsOf: field.name.utf8)
            output.append(contentsOf: ": ".utf8)
            // A CR or LF in a value would let a handler's data split the response.
            let value = field.value.utf8
            if value.contains(where: { $0 == 13 || $0 == 10 }) {
                for byte in value where byte != 13 && byte != 10 { output.append(byte) }
            } else {
                output.append(contentsOf: value)
            }
            output.append(contentsOf: crlf)
        }
        output.append(contentsOf: crlf)
        if !headRequest && !forbidsBody {
            output.append(contentsOf: response.body)
        }
    }

    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private static let crlf: [UInt8] = [13, 10]

    private static func isServerOwned(_ name: String) -> Bool {
        switch name.utf8.count {
        case 4: asciiCaseInsensitiveEquals(name, "date")
        case 10: asciiCaseInsensitiveEquals(name, "connection")
        case 14: asciiCaseInsensitiveEquals(name, "content-length")
        case 17: asciiCaseInsensitiveEquals(name, "transfer-encoding")
        default: false
        }
    }

    private static let cachedStatusLines: [[UInt8]] = (0..<600).map { status in
        Array("HTTP/1.1 \(status) \(HTTPStatus.reasonPhrase(status))\r\n".utf8)
    }

    private static func statusLine(_ status: Int) -> [UInt8] {
        if status >= 100 && status < 600 { return cachedStatusLines[status] }
        return Array("HTTP/1.1 \(status) \(HTTPStatus.reasonPhrase(status))\r\n".utf8)
    }

    private static func appendDecimal(_ value: Int, to output: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var remaining = value
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining > 0
            output.append(contentsOf: buffer[index...])
        }
    }
}

/// The `Date` header line (RFC 9110 §6.6.1, IMF-fixdate), rebuilt at most once a second.
struct DateHeaderCache {
    private(set) var line: [UInt8] = []
    private var second = -1

    mutating func refresh() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        let current = now.tv_sec
        guard current != second else { return }
        second = current
        line = Array("Date: \(Self.imfFixdate(current))\r\n".utf8)
    }

    static func imfFixdate(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
