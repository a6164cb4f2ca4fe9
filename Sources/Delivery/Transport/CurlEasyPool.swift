/// The engine's easy handles: idle ones kept for reuse, active ones tracked so shutdown can
/// find them. Confined to the engine thread. Holding every handle strongly is what makes the
/// unretained `CURLOPT_PRIVATE` pointer safe. The pool never holds more handles than the
/// engine's `maxConcurrentTransfers`, its peak concurrency, and does not shrink.
struct CurlEasyPool {
    private let options: CurlTransfer.Options
    private var idle: [CurlTransfer] = []
    private(set) var active: [CurlTransfer] = []

    init(options: CurlTransfer.Options) {
        self.options = options
    }

    var activeCount: Int { active.count }

    /// An idle handle, or a new one; it is active until `release`.
    mutating func acquire() throws(CurlError) -> CurlTransfer {
        let transfer: CurlTransfer
        if let reused = idle.popLast() {
            transfer = reused
        } else {
            transfer = try CurlTransfer(options: options)
        }
        transfer.activeIndex = active.count
        active.append(transfer)
        return transfer
    }

    /// Returns a handle libcurl no longer holds (removed from the multi handle) to the idle list.
    mutating func release(_ transfer: CurlTransfer) {
        let index = transfer.activeIndex
        precondition(index >= 0 && index < active.count && active[index] === transfer, "released a transfer that is not active")
        let last = active.removeLast()
        if index < active.count {
            active[index] = last
            last.activeIndex = index
        }
        transfer.activeIndex = -1
        idle.append(transfer)
    }

    /// Drops every idle handle (their deinit runs `curl_easy_cleanup`). Active ones must have
    /// been released first.
    mutating func removeAll() {
        precondition(active.isEmpty, "transfers still active")
        idle.removeAll()
    }
}
