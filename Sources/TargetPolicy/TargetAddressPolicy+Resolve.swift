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

/// What can be said of a subscriber URL without asking DNS.
public enum TargetURLVerdict: Sendable, Equatable {
    case allowed
    case refused(String)
    /// The host is a name whose addresses must be looked up (blocking) to judge it.
    case needsLookup
}

extension TargetAddressPolicy {
    /// Judges `url` as far as it can without I/O: its syntax always, its address when the
    /// host is an IP literal. With `allowPrivate` nothing is refused for its address, so no
    /// lookup is needed either.
    public func judgeWithoutLookup(_ url: String) -> TargetURLVerdict {
        switch validateURL(url) {
        case .failure(let refusal): return .refused(refusal.message)
        case .success(let target): return allowPrivate || target.literalAddress != nil ? .allowed : .needsLookup
        }
    }

    /// Why `url` may not be a subscription's target, or nil when it may: not an http(s) URL,
    /// or a host that is (or resolves to) an address the policy refuses. May resolve the
    /// host, so it blocks like `resolveAndCheck`; delivery checks the address again when it
    /// connects (DNS rebinding).
    public func refusal(ofURL url: String) -> String? {
        switch judgeWithoutLookup(url) {
        case .allowed: return nil
        case .refused(let message): return message
        case .needsLookup:
            guard case .success(let target) = validateURL(url) else { return nil }
            do {
                _ = try resolveAndCheck(host: target.host, port: target.port)
                return nil
            } catch {
                return error.message
            }
        }
    }
}
