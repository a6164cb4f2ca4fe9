#if canImport(Glibc)
import Glibc
#endif

extension TargetAddressPolicy {
    /// Resolves `host` with `getaddrinfo` and checks every address it gives; returns them all
    /// (deduplicated, in resolver order) when none is refused.
    ///
    /// Blocking: a lookup can wait for DNS for seconds. Call it from a resolver or worker
    /// thread (subscription validation, the delivery engine's own thread), never from an
    /// HTTP event loop, which would stall every connection on it (DESIGN invariant 4).
    ///
    /// Every family is asked for (no `AI_ADDRCONFIG`), so an AAAA record pointing inside is
    /// refused even on a machine without IPv6 today. Numeric hosts (`10.0.0.1`, `::1`, and
    /// the legacy `0x7f.1` forms glibc still reads) resolve without any network traffic.
    public func resolveAndCheck(host: String, port: UInt16) throws(Refusal) -> [IPAddress] {
        var name = host
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        guard !name.isEmpty else { throw Refusal(kind: .invalidURL, message: "the URL has no host") }
        guard !name.utf8.contains(0) else {
            throw Refusal(kind: .invalidURL, message: "the host name contains a NUL character")
        }

        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        // Any socket type: the addresses repeat per type and are deduplicated below. (Naming
        // SOCK_STREAM here fails to resolve in release builds, where libcurl's view of the
        // system headers shadows Glibc's.)
        hints.ai_socktype = 0
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, String(port), &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0 else {
            let reason = gai_strerror(status).map { String(cString: $0) } ?? "error \(status)"
            let temporary = status == EAI_AGAIN
            throw Refusal(
                kind: .unresolvable(temporary: temporary),
                message: "the host '\(host)' does not resolve (\(reason))"
                    + (temporary ? "; the name server did not answer in time, try again later" : "")
            )
        }

        var addresses: [IPAddress] = []
        var entry = list
        while let current = entry {
            if let pointer = current.pointee.ai_addr,
               let address = IPAddress(sockaddr: pointer, length: Int(current.pointee.ai_addrlen)),
               !addresses.contains(address) {
                addresses.append(address)
            }
            entry = current.pointee.ai_next
        }
        guard !addresses.isEmpty else {
            throw Refusal(kind: .unresolvable(temporary: false), message: "the host '\(host)' resolves to no IPv4 or IPv6 address")
        }
        if let refusal = check(host: name, addresses: addresses) { throw refusal }
        return addresses
    }
}
