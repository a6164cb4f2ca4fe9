// The HTTP ceiling benchmark's server: our HTTPServer answering `POST /v1/events` and
// `POST /hook` with the same static `202 {"id":"x"}` that Benchmarks/nginx_conf.sh serves,
// so wrk measures the server (parse, route, respond) and nothing else.
// Usage: bench-server [HOST:PORT=127.0.0.1:18081] [EVENT_LOOPS=1]
import HTTPServer
import Logging
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
let address = try SocketAddress(parsing: arguments.count > 1 ? arguments[1] : "127.0.0.1:18081")
var configuration = HTTPServerConfiguration(address: address)
configuration.eventLoopCount = arguments.count > 2 ? Int(arguments[2]) ?? 1 : 1

var router = Router()
let accepted = HTTPResponse.json(202, #"{"id":"x"}"#)
router.post("/v1/events") { _, _ in .response(accepted) }
router.post("/hook") { _, _ in .response(accepted) }

var signals = sigset_t()
sigemptyset(&signals)
sigaddset(&signals, SIGTERM)
sigaddset(&signals, SIGINT)
pthread_sigmask(SIG_BLOCK, &signals, nil)

var logger = Logger(label: "bench-server")
logger.logLevel = .warning
let server = HTTPServer(configuration: configuration, responder: router, logger: logger)
let bound = try server.start()
let banner = "bench-server listening on \(bound) with \(configuration.eventLoopCount) event loop(s)\n"
_ = banner.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
var received: Int32 = 0
sigwait(&signals, &received)
server.shutdown(gracePeriod: .seconds(1))
server.wait()
