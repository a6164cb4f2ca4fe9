#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call: which call and the `errno` it left.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The outcome of a non-blocking call: a value, or "try again when the fd is ready".
public enum IOResult<Value> {
    case done(Value)
    case wouldBlock
}

/// Runs a system call, retrying `EINTR` and reporting `EAGAIN`/`EWOULDBLOCK` as `.wouldBlock`.
/// Everything else throws a `SystemError` naming the call. `EBADF` and `EFAULT` mean the
/// program itself is wrong (a closed or bogus descriptor/pointer), so they trap, as in NIO.
@inlinable
public func syscall<T: FixedWidthInteger>(
    _ name: @autoclosure () -> String,
    _ body: () -> T
) throws(SystemError) -> IOResult<T> {
    while true {
        let result = body()
        if result >= 0 { return .done(result) }
        let code = Glibc.errno
        switch code {
        case EINTR:
            continue
        case EAGAIN, EWOULDBLOCK:
            return .wouldBlock
        case EBADF, EFAULT:
            preconditionFailure("\(name()) returned \(code): a bug in descriptor or buffer handling")
        default:
            throw SystemError(call: name(), errno: code)
        }
    }
}

/// A blocking-style call where `EAGAIN` cannot happen or is itself an error.
@inlinable
public func syscallValue<T: FixedWidthInteger>(
    _ name: @autoclosure () -> String,
    _ body: () -> T
) throws(SystemError) -> T {
    switch try syscall(name(), body) {
    case .done(let value): return value
    case .wouldBlock: throw SystemError(call: name(), errno: EAGAIN)
    }
}
