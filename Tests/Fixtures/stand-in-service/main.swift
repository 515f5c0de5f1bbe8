// A stand-in for the clustered service that service-monitor watches, for tests and the demo.
//
//   stand-in-service --listen 127.0.0.1:0 [--status-file PATH] [--unhealthy-for 2s] [--request-log PATH]
//
// Answers every HTTP request with the status in PATH (its first line; 200 when the file is
// missing), or 503 during the first --unhealthy-for after start, and appends each status it
// served to the request log. Prints "listening on PORT" once bound, so callers know when it is
// ready and which port it got.
import NIOCore
import NIOHTTP1
import NIOPosix
import Posix

#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var host = "127.0.0.1"
    var port = 0
    var statusFile: String?
    var requestLog: String?
    var unhealthyFor: Duration = .zero

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            guard let value = iterator.next() else { Self.usage("missing value for \(argument)") }
            switch argument {
            case "--listen":
                guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]) else {
                    Self.usage("--listen wants HOST:PORT, got \(value)")
                }
                host = String(value[..<colon])
                self.port = port
            case "--status-file":
                statusFile = value
            case "--request-log":
                requestLog = value
            case "--unhealthy-for":
                guard value.hasSuffix("ms") ? Int(value.dropLast(2)) != nil : Int(value.dropLast()) != nil else {
                    Self.usage("--unhealthy-for wants e.g. 2s or 500ms, got \(value)")
                }
                unhealthyFor = value.hasSuffix("ms") ? .milliseconds(Int(value.dropLast(2))!) : .seconds(Int(value.dropLast())!)
            default:
                Self.usage("unknown option \(argument)")
            }
        }
    }

    static func usage(_ message: String) -> Never {
        try? FileDescriptor.standardError.write("stand-in-service: \(message)\n")
        exit(64)
    }
}

final class Responder: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let options: Options
    let started = ContinuousClock.now

    init(options: Options) {
        self.options = options
    }

    func currentStatus() -> Int {
        if ContinuousClock.now - started < options.unhealthyFor { return 503 }
        guard let path = options.statusFile, let text = try? File.text(atPath: path) else { return 200 }
        return Int(text.split(separator: "\n").first ?? "") ?? 200
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let status = currentStatus()
        if let path = options.requestLog {
            try? File.append("\(status)\n", toPath: path)
        }
        let body = "stand-in-service: \(status)\n"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let responder = Responder(options: options)
let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(responder)
        }
    }
    .bind(host: options.host, port: options.port)
    .get()
// One write(2), unbuffered: the reader waits for this line.
try FileDescriptor.standardOutput.write("listening on \(channel.localAddress?.port ?? 0)\n")
try await channel.closeFuture.get()
