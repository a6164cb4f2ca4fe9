import TargetPolicy
#if canImport(Glibc)
import Glibc
#endif
import CCurl

/// One pooled easy handle and the state of the transfer it runs. Confined to the engine
/// thread. libcurl's callbacks find it through the unretained pointer set once as
/// `CURLOPT_PRIVATE`, `WRITEDATA`, `HEADERDATA` and `OPENSOCKETDATA`; the pool's strong
/// reference keeps it alive for as long as libcurl can call back.
///
/// Handles are reused without `curl_easy_reset`: the base options are set once here, and
/// `prepare` sets every per-request option on every request, so nothing from the previous
/// transfer survives into the next. Anything added to `prepare` must keep that true.
final class CurlTransfer {
    struct Options {
        var userAgent: String
        var responseBodyLimit: Int
        var addressCheck: AddressCheck?
    }

    let handle: UnsafeMutableRawPointer
    /// This transfer's position in the pool's active list, for O(1) removal.
    var activeIndex = -1

    private let addressCheck: AddressCheck?
    /// The running request; holding it keeps the body libcurl reads in place alive.
    private var request: DeliveryRequest?
    private var startedAt = ContinuousClock.now
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let responseBody: UnsafeMutablePointer<UInt8>
    private let responseBodyLimit: Int
    private var responseCount = 0
    private var retryAfter: String?
    /// Set by the open-socket callback when `addressCheck` refused an address.
    private var refusedAddress: String?
    /// The request's header lines and the `curl_slist` nodes that chain them, built in
    /// buffers reused across transfers (no `curl_slist_append` mallocs per request).
    private var headerBytes: UnsafeMutablePointer<UInt8>
    private var headerByteCapacity = 1024
    private var headerNodes: UnsafeMutablePointer<curl_slist>
    private var headerNodeCapacity = 8

    init(options: Options) throws(CurlError) {
        guard let handle = curl_easy_init() else { throw CurlError(CURLE_FAILED_INIT) }
        self.handle = handle
        addressCheck = options.addressCheck
        responseBodyLimit = max(0, options.responseBodyLimit)
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer[0] = 0
        responseBody = .allocate(capacity: max(1, responseBodyLimit))
        headerBytes = .allocate(capacity: headerByteCapacity)
        headerNodes = .allocate(capacity: headerNodeCapacity)

        let context = Unmanaged.passUnretained(self).toOpaque()
        try set(CURLOPT_NOSIGNAL, 1)
        // A webhook target must answer for itself: a redirect is its answer, not a new target
        // (following one would also step around the address check's intent).
        try set(CURLOPT_FOLLOWLOCATION, 0)
        try set(CURLOPT_TCP_NODELAY, 1)
        try set(CURLOPT_SSL_VERIFYPEER, 1)
        try set(CURLOPT_SSL_VERIFYHOST, 2)
        try set(CURLOPT_POST, 1)
        // No file://, gopher://, dict:// … : a subscription URL reaches HTTP servers only.
        try check(ccurl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        // "" disables the http_proxy/https_proxy environment variables: a proxy would be the
        // peer the address check sees, and the real target would go unchecked.
        try check(ccurl_easy_setopt_string(handle, CURLOPT_PROXY, ""))
        try check(options.userAgent.withCString { ccurl_easy_setopt_string(handle, CURLOPT_USERAGENT, $0) })
        try check(ccurl_easy_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(ccurl_easy_setopt_ptr(handle, CURLOPT_PRIVATE, context))
        try check(ccurl_easy_setopt_ptr(handle, CURLOPT_WRITEDATA, context))
        try check(ccurl_easy_setopt_write_function(handle, curlTransferWrite))
        try check(ccurl_easy_setopt_ptr(handle, CURLOPT_HEADERDATA, context))
        try check(ccurl_easy_setopt_header_function(handle, curlTransferHeader))
        if addressCheck != nil {
            try check(ccurl_easy_setopt_ptr(handle, CURLOPT_OPENSOCKETDATA, context))
            try check(ccurl_easy_setopt_opensocket_function(handle, curlTransferOpenSocket))
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
        responseBody.deallocate()
        headerBytes.deallocate()
        headerNodes.deallocate()
    }

    /// Sets up `request` on this handle; an error means the request cannot be sent as given.
    func prepare(_ request: DeliveryRequest, connectTimeoutMilliseconds: Int, timeoutMilliseconds: Int) -> DeliveryError? {
        responseCount = 0
        retryAfter = nil
        refusedAddress = nil
        errorBuffer[0] = 0
        startedAt = .now
        if let error = buildHeaderList(request.headers) { return error }
        self.request = request
        var code = request.url.withCString { ccurl_easy_setopt_string(handle, CURLOPT_URL, $0) }
        if code == CURLE_OK {
            // POSTFIELDS does not copy: the pointer stays valid because `self.request` holds
            // the array, unmutated, until `finish`. A nil pointer would make libcurl read the
            // body from stdin, hence the shared empty buffer.
            let body = self.request!.body.withUnsafeBytes { $0.baseAddress } ?? UnsafeRawPointer(emptyBody)
            code = ccurl_easy_setopt_ptr(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: body))
        }
        if code == CURLE_OK { code = ccurl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)) }
        if code == CURLE_OK { code = ccurl_easy_setopt_ptr(handle, CURLOPT_HTTPHEADER, headerNodes) }
        if code == CURLE_OK { code = ccurl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds) }
        if code == CURLE_OK { code = ccurl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds) }
        guard code == CURLE_OK else {
            self.request = nil
            return DeliveryError(kind: .other, message: "could not set up the transfer: \(CurlError(code).message)", curlCode: Int(code.rawValue))
        }
        return nil
    }

    /// The result of the transfer libcurl reported done with `code`; releases the request.
    func finish(code: CURLcode, now: ContinuousClock.Instant) -> DeliveryResult {
        var status = 0
        _ = ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        // A status is three digits (RFC 9110 §15); libcurl hands back whatever the peer wrote
        // there, so anything else counts as no status rather than reaching a record.
        return makeResult(status: (100...999).contains(status) ? status : nil, error: code == CURLE_OK ? nil : error(for: code), now: now)
    }

    /// The result of a transfer the engine gave up on, without asking libcurl.
    func abandon(_ error: DeliveryError, now: ContinuousClock.Instant) -> DeliveryResult {
        makeResult(status: nil, error: error, now: now)
    }

    private func makeResult(status: Int?, error: DeliveryError?, now: ContinuousClock.Instant) -> DeliveryResult {
        let body = responseCount == 0 ? [] : Array(UnsafeBufferPointer(start: responseBody, count: responseCount))
        let result = DeliveryResult(
            tag: request?.tag ?? 0, status: status, error: error, duration: startedAt.duration(to: now),
            responseBody: body, retryAfter: retryAfter
        )
        request = nil
        retryAfter = nil
        return result
    }

    private func error(for code: CURLcode) -> DeliveryError {
        // A refused address surfaces from libcurl as a plain "couldn't connect".
        if code == CURLE_COULDNT_CONNECT, let refusedAddress {
            return DeliveryError(kind: .blocked, message: "refused to connect to \(refusedAddress): address not allowed", curlCode: Int(code.rawValue))
        }
        var message = errorBuffer[0] != 0 ? String(cString: errorBuffer) : CurlError(code).message
        // libcurl 7.8x says "Couldn't connect to server" where the errno tells refused from
        // unreachable from no route; the errno of the last failed connect says which.
        var osErrno = 0
        if code == CURLE_COULDNT_CONNECT, ccurl_easy_getinfo_long(handle, CURLINFO_OS_ERRNO, &osErrno) == CURLE_OK,
           osErrno != 0, let text = strerror(Int32(truncatingIfNeeded: osErrno)) {
            let reason = String(cString: text)
            if !message.contains(reason) { message += " (\(reason))" }
        }
        return DeliveryError(kind: DeliveryError.kind(of: code), message: message, curlCode: Int(code.rawValue))
    }

    // MARK: - Callbacks (engine thread, inside curl_multi_perform)

    fileprivate func receiveBody(_ data: UnsafeMutablePointer<CChar>, count: Int) {
        let take = min(count, responseBodyLimit - responseCount)
        guard take > 0 else { return }
        UnsafeMutableRawPointer(responseBody + responseCount).copyMemory(from: data, byteCount: take)
        responseCount += take
    }

    fileprivate func receiveHeader(_ line: UnsafeRawBufferPointer) {
        // Each response (an interim 1xx as well) starts with its status line; only the final
        // response's Retry-After counts.
        if line.starts(with: httpPrefix) {
            retryAfter = nil
        } else if line.count > retryAfterPrefix.count, hasPrefixIgnoringCase(line, retryAfterPrefix) {
            let value = line[retryAfterPrefix.count...].drop { $0 == 0x20 || $0 == 0x09 }
            let trimmed = value.prefix { $0 != 0x0D && $0 != 0x0A }.prefix(maxRetryAfterLength)
            var end = trimmed.endIndex
            while end > trimmed.startIndex, trimmed[end - 1] == 0x20 || trimmed[end - 1] == 0x09 { end -= 1 }
            retryAfter = end == trimmed.startIndex ? nil : String(decoding: trimmed[..<end], as: UTF8.self)
        }
    }

    fileprivate func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        let info = address.pointee
        if let addressCheck {
            let peer = PeerAddress(ccurl_sockaddr_address(address), length: Int(info.addrlen))
            guard let peer, addressCheck(peer) else {
                refusedAddress = peer.map { "\($0.ip)" } ?? "an address of family \(info.family)"
                return CURL_SOCKET_BAD
            }
        }
        return socket(info.family, info.socktype | Int32(SOCK_CLOEXEC.rawValue), info.protocol)
    }

    // MARK: - Header list

    /// Lays out `name: value\0` lines and a `curl_slist` chain over them in the reused
    /// buffers, then adds `Content-Type` if absent and an empty `Expect:` (so libcurl never
    /// waits for `100 Continue` on a large body).
    private func buildHeaderList(_ headers: [(name: String, value: String)]) -> DeliveryError? {
        var byteCount = expectLine.count + 1 + contentTypeLine.count + 1
        for header in headers { byteCount += header.name.utf8.count + 2 + header.value.utf8.count + 1 }
        let nodeCount = headers.count + 2
        if byteCount > headerByteCapacity {
            headerBytes.deallocate()
            headerByteCapacity = max(byteCount, headerByteCapacity * 2)
            headerBytes = .allocate(capacity: headerByteCapacity)
        }
        if nodeCount > headerNodeCapacity {
            headerNodes.deallocate()
            headerNodeCapacity = max(nodeCount, headerNodeCapacity * 2)
            headerNodes = .allocate(capacity: headerNodeCapacity)
        }
        var offset = 0
        var node = 0
        var hasContentType = false
        func addLine(_ write: (inout Int) -> Bool) -> Bool {
            let start = offset
            guard write(&offset) else { return false }
            headerBytes[offset] = 0
            offset += 1
            let line = UnsafeMutableRawPointer(headerBytes + start).assumingMemoryBound(to: CChar.self)
            (headerNodes + node).initialize(to: curl_slist(data: line, next: nil))
            if node > 0 { headerNodes[node - 1].next = headerNodes + node }
            node += 1
            return true
        }
        for header in headers {
            var name = header.name
            var value = header.value
            let valid = addLine { offset in
                let nameOK = name.withUTF8 { copy($0, at: &offset, forbidding: { $0 == 0x3A || $0 == 0x20 || $0 == 0x09 }) }
                guard nameOK, !name.isEmpty else { return false }
                if value.isEmpty {
                    // libcurl drops `Name:` with nothing after the colon; `Name;` sends it empty.
                    headerBytes[offset] = 0x3B
                    offset += 1
                    return true
                }
                headerBytes[offset] = 0x3A
                headerBytes[offset + 1] = 0x20
                offset += 2
                return value.withUTF8 { copy($0, at: &offset, forbidding: { _ in false }) }
            }
            guard valid else {
                return DeliveryError(kind: .invalidRequest, message: "header '\(header.name)' has an invalid name or a line break in its value")
            }
            if !hasContentType, header.name.utf8.count == contentTypeName.count {
                hasContentType = name.withUTF8 { hasPrefixIgnoringCase(UnsafeRawBufferPointer($0), contentTypeName) }
            }
        }
        if !hasContentType {
            _ = addLine { offset in contentTypeLine.withUnsafeBufferPointer { copy($0, at: &offset, forbidding: { _ in false }) } }
        }
        _ = addLine { offset in expectLine.withUnsafeBufferPointer { copy($0, at: &offset, forbidding: { _ in false }) } }
        return nil
    }

    /// Copies `bytes` into the header buffer at `offset`; false on CR, LF, NUL or a byte
    /// `forbidding` rejects.
    private func copy(_ bytes: UnsafeBufferPointer<UInt8>, at offset: inout Int, forbidding: (UInt8) -> Bool) -> Bool {
        for byte in bytes {
            if byte == 0x0D || byte == 0x0A || byte == 0 || forbidding(byte) { return false }
            headerBytes[offset] = byte
            offset += 1
        }
        return true
    }

    private func set(_ option: CURLoption, _ value: Int) throws(CurlError) {
        try check(ccurl_easy_setopt_long(handle, option, value))
    }

    private func check(_ code: CURLcode) throws(CurlError) {
        guard code == CURLE_OK else { throw CurlError(code) }
    }
}

private let httpPrefix: [UInt8] = Array("HTTP/".utf8)
private let retryAfterPrefix: [UInt8] = Array("retry-after:".utf8)
private let contentTypeName: [UInt8] = Array("content-type".utf8)
private let contentTypeLine: [UInt8] = Array("Content-Type: application/json".utf8)
private let expectLine: [UInt8] = Array("Expect:".utf8)
/// A Retry-After is delta-seconds or an IMF-fixdate (29 bytes); anything longer is junk.
private let maxRetryAfterLength = 64
/// What POSTFIELDS points at for an empty body (never read: the size is 0).
nonisolated(unsafe) private let emptyBody = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

/// ASCII case-insensitive prefix test; `prefix` must be lowercase.
private func hasPrefixIgnoringCase(_ line: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
    guard line.count >= prefix.count else { return false }
    for index in 0..<prefix.count {
        var byte = line[index]
        if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
        if byte != prefix[index] { return false }
    }
    return true
}

private func transfer(_ context: UnsafeMutableRawPointer) -> CurlTransfer {
    Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
}

/// Keeps the first `responseBodyLimit` bytes and reports every byte consumed, so libcurl
/// reads the rest of the body (and can reuse the connection) instead of failing the transfer.
private let curlTransferWrite: curl_write_callback = { data, size, count, context in
    let length = size &* count
    if let data, let context, length > 0 { transfer(context).receiveBody(data, count: length) }
    return length
}

private let curlTransferHeader: curl_write_callback = { data, size, count, context in
    let length = size &* count
    if let data, let context { transfer(context).receiveHeader(UnsafeRawBufferPointer(start: data, count: length)) }
    return length
}

/// Returning `CURL_SOCKET_BAD` makes libcurl try the host's next address, and fail with
/// `CURLE_COULDNT_CONNECT` when none is left.
private let curlTransferOpenSocket: curl_opensocket_callback = { context, _, address in
    guard let context, let address else { return CURL_SOCKET_BAD }
    return transfer(context).openSocket(address)
}
