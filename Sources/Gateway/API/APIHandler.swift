import JSON
import HTTPServer

/// Admin routes run on the event loop like ingest: they check and answer at once, or hand a
/// record to the journal and answer from its completion. No `Task`, so they never wait on
/// the shared concurrency pool.
extension Router {
    /// Registers a handler that may throw `HTTPError` to answer with a problem document.
    mutating func route(
        _ method: HTTPMethod, _ template: String,
        _ handler: @escaping @Sendable (HTTPRequest, RequestContext) throws -> Reply
    ) {
        add(method, template) { request, context in
            do {
                return try handler(request, context)
            } catch let error as HTTPError {
                return .response(error.response)
            } catch {
                return .response(.problem(status: 500, detail: "The request failed unexpectedly: \(error)."))
            }
        }
    }
}

/// The request's body as JSON for the admin routes: declared as JSON (else 415), strictly
/// valid with no duplicate keys at any depth (else 400 saying where it broke).
func jsonBody(_ request: HTTPRequest) throws -> JSONValue {
    if let refusal = EventsAPI.requireJSON(request) { throw refusal }
    do {
        return try JSONParser.parse(request.body, rejectDuplicateKeys: true)
    } catch {
        throw HTTPError(400, "The body is not valid JSON: \(error)")
    }
}

extension GatewayCore {
    /// Appends state-change records and answers once they are durable, with `respond`'s
    /// response, or `503` if the journal cannot take them.
    func commit(
        _ entries: [JournalEntry], context: RequestContext,
        then respond: @escaping @Sendable ([JournalRecord]) -> HTTPResponse
    ) -> Reply {
        let pending = context.makePending()
        commit(entries, answering: pending, then: respond)
        return .pending(pending)
    }

    /// The same, answering a response that is already pending.
    func commit(
        _ entries: [JournalEntry], answering pending: PendingResponse,
        then respond: @escaping @Sendable ([JournalRecord]) -> HTTPResponse
    ) {
        journal.append(entries) { result in
            switch result {
            case .success(let records): pending.complete(respond(records))
            case .failure(let error):
                pending.complete(.problem(status: 503, detail: "The change was not stored: \(error).", headers: ["Retry-After": "30"]))
            }
        }
    }
}
