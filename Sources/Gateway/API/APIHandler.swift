import HTTPServer
import JSON
import JSONSchema

/// Admin routes run on the event loop like ingest: they check and answer at once, or start a
/// core operation and answer from its completion. No `Task`, so they never wait on the
/// shared concurrency pool.
extension Router {
    /// Registers a handler that may throw `HTTPError` or `GatewayError` to answer with a
    /// problem document.
    mutating func route(
        _ method: HTTPMethod, _ template: String,
        _ handler: @escaping @Sendable (HTTPRequest, RequestContext) throws -> Reply
    ) {
        add(method, template) { request, context in
            do {
                return try handler(request, context)
            } catch let error as HTTPError {
                return .response(error.response)
            } catch let error as GatewayError {
                return .response(error.response)
            } catch {
                return .response(.problem(status: 500, detail: "The request failed unexpectedly: \(error)."))
            }
        }
    }
}

/// Starts a core operation and answers from its outcome: a refusal it throws, or a result
/// it returns at once, becomes the response now; otherwise its completion, later, completes
/// a pending response with `render`'s answer or the problem.
func reply<Value>(
    _ context: RequestContext, render: @escaping @Sendable (Value) -> HTTPResponse,
    nowOrLater start: (@escaping OperationCompletion<Value>) throws(GatewayError) -> Result<Value, GatewayError>?
) -> Reply {
    let pending = context.makePending()
    let now: Result<Value, GatewayError>?
    do {
        now = try start { result in
            switch result {
            case .success(let value): pending.complete(render(value))
            case .failure(let error): pending.complete(error.response)
            }
        }
    } catch {
        return .response(error.response)
    }
    switch now {
    case .success(let value)?: return .response(render(value))
    case .failure(let error)?: return .response(error.response)
    case nil: return .pending(pending)
    }
}

/// The same for an operation that always answers through its completion.
func reply<Value>(
    _ context: RequestContext, render: @escaping @Sendable (Value) -> HTTPResponse,
    _ start: (@escaping OperationCompletion<Value>) throws(GatewayError) -> Void
) -> Reply {
    reply(context, render: render, nowOrLater: { done throws(GatewayError) in
        try start(done)
        return nil
    })
}

extension GatewayError {
    /// The problem document: schema violations listed in `errors`, `Retry-After` when a
    /// retry may succeed.
    var response: HTTPResponse {
        var headers = HTTPHeaders()
        if let retryAfter { headers.add(name: "Retry-After", value: String(retryAfter)) }
        guard !violations.isEmpty else { return .problem(status: status, detail: detail, headers: headers) }
        let list = jsonArray(violations.map { violation in
            var item = JSONObjectWriter()
            item.add("pointer", string: violation.instancePath)
            item.add("keyword", string: violation.keyword)
            item.add("message", string: violation.message)
            return item.finish()
        })
        return .problem(status: status, detail: detail, headers: headers, extensions: [("errors", JSONFragment(raw: list))])
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
