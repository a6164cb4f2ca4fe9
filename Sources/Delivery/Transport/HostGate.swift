import Runtime

/// Transfers to one host handed to libcurl at once: at most the connections it may open to
/// that host (`maxConnectionsPerHost`). The rest wait here, in order per host, rather than as
/// pending handles inside libcurl, whose every add and remove walks them — thousands of
/// subscriptions of one receiver (a tenant per customer, all on one platform) made
/// `curl_multi_remove_handle` the engine's largest cost. Owned by one engine thread.
struct HostGate {
    /// Transfers per host at once; 0 is no limit.
    let limit: Int
    private var running: [String: Int] = [:]
    private var held: [String: ChunkedQueue<DeliveryRequest>] = [:]
    private var hostOfTag: [UInt64: String] = [:]
    private(set) var heldCount = 0

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Whether `request` may start now (it then counts as running until `finished`);
    /// otherwise it is held for its host.
    mutating func admit(_ request: DeliveryRequest) -> Bool {
        guard limit > 0 else { return true }
        let host = Self.host(of: request.url)
        let count = running[host, default: 0]
        if count < limit {
            running[host] = count + 1
            hostOfTag[request.tag] = host
            return true
        }
        held[host, default: ChunkedQueue()].push(request)
        heldCount += 1
        return false
    }

    /// The transfer with `tag` ended: the next held request of its host, which takes its
    /// place (already counted as running), if one waits.
    mutating func finished(_ tag: UInt64) -> DeliveryRequest? {
        guard let host = hostOfTag.removeValue(forKey: tag) else { return nil }
        if let next = held[host]?.first {
            held[host]!.popFirst()
            if held[host]!.first == nil { held[host] = nil }
            heldCount -= 1
            hostOfTag[next.tag] = host
            return next
        }
        let count = running[host, default: 1] - 1
        running[host] = count > 0 ? count : nil
        return nil
    }

    /// Everything held, in no particular order across hosts (an engine stopping).
    mutating func takeAllHeld() -> [DeliveryRequest] {
        var all: [DeliveryRequest] = []
        for (host, _) in held {
            while let next = held[host]!.first {
                held[host]!.popFirst()
                all.append(next)
            }
        }
        held = [:]
        heldCount = 0
        return all
    }

    /// `scheme://authority` of a URL, as libcurl shares connections by it (a host spelled
    /// in two cases counts twice, which only loosens the gate). A byte scan: it runs for
    /// every transfer.
    static func host(of url: String) -> String {
        var url = url
        return url.withUTF8 { bytes in
            var index = 0
            var slashes = 0
            // Past "scheme://", then up to the first '/', '?' or '#'.
            while index < bytes.count {
                let byte = bytes[index]
                if slashes < 2 {
                    if byte == UInt8(ascii: "/") { slashes += 1 } else if slashes == 1 { slashes = 0 }
                } else if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") {
                    break
                }
                index += 1
            }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<index]), as: UTF8.self)
        }
    }
}
