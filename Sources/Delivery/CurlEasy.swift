import CCurl

/// One libcurl easy handle, configured for a webhook POST. Owned by one thread at a time.
/// The delivery engine (later) drives many of these through `curl_multi`; this type holds
/// the per-transfer setup so that engine and the blocking `perform()` share it.
public final class CurlEasy {
    let handle: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var body: [UInt8] = []
    /// Response bytes collected by the write callback.
    public private(set) var responseBody: [UInt8] = []

    public init() throws(CurlError) {
        guard Libcurl.initialize(), let handle = curl_easy_init() else {
            throw CurlError(CURLE_FAILED_INIT)
        }
        self.handle = handle
        try set(CURLOPT_NOSIGNAL, 1)
        // Redirects are never followed: a webhook target must answer for itself.
        try set(CURLOPT_FOLLOWLOCATION, 0)
        try set(CURLOPT_TCP_NODELAY, 1)
        try check(ccurl_easy_setopt_ptr(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque()))
        try check(ccurl_easy_setopt_write_function(handle) { data, size, count, context in
            let easy = Unmanaged<CurlEasy>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            if let data, length > 0 {
                data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    easy.responseBody.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
            }
            return length
        })
    }

    deinit {
        curl_easy_cleanup(handle)
        if let headerList { curl_slist_free_all(headerList) }
    }

    /// Prepares a POST of `body` to `url` with `headers` (each `Name: value`).
    public func preparePost(url: String, body: [UInt8], headers: [String], timeoutMilliseconds: Int = 30_000) throws(CurlError) {
        self.body = body
        responseBody.removeAll(keepingCapacity: true)
        try check(url.withCString { ccurl_easy_setopt_string(handle, CURLOPT_URL, $0) })
        try set(CURLOPT_POST, 1)
        try check(self.body.withUnsafeMutableBytes { ccurl_easy_setopt_ptr(handle, CURLOPT_POSTFIELDS, $0.baseAddress) })
        try check(ccurl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
        try set(CURLOPT_TIMEOUT_MS, timeoutMilliseconds)
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
        // An empty `Expect:` stops libcurl from waiting for 100 Continue on larger bodies.
        for header in headers + ["Expect:"] {
            headerList = header.withCString { curl_slist_append(headerList, $0) }
        }
        try check(ccurl_easy_setopt_ptr(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headerList)))
    }

    /// Runs the transfer on the calling thread and returns the HTTP status.
    public func perform() throws(CurlError) -> Int {
        // POSTFIELDS does not copy, so the body must stay put for the whole transfer.
        try withExtendedLifetime(body) { () throws(CurlError) in
            try check(curl_easy_perform(handle))
        }
        var status = 0
        try check(ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status))
        return status
    }

    private func set(_ option: CURLoption, _ value: Int) throws(CurlError) {
        try check(ccurl_easy_setopt_long(handle, option, value))
    }

    private func check(_ code: CURLcode) throws(CurlError) {
        guard code == CURLE_OK else { throw CurlError(code) }
    }
}
