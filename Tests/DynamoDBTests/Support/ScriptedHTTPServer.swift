import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real HTTP/1.1 server on 127.0.0.1 whose answers a test scripts: `respond` sees each
/// request (method, path, headers, body) and returns status, headers and body. Every request is
/// recorded. Stands in for the container credentials endpoint, IMDS, or a DynamoDB front end
/// that throttles.
final class ScriptedHTTPServer: Sendable {
    struct Request: Sendable {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var body: String
    }

    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: String = ""
    }

    typealias Responder = @Sendable (Request) -> Response

    let port: Int
    private let channel: any Channel
    private let log: Locked<[Request]>

    var baseURL: String { "http://127.0.0.1:\(self.port)" }

    /// The requests received so far, in order.
    var requests: [Request] { self.log.withLock { $0 } }

    private init(port: Int, channel: any Channel, log: Locked<[Request]>) {
        self.port = port
        self.channel = channel
        self.log = log
    }

    static func start(_ respond: @escaping Responder) async throws -> ScriptedHTTPServer {
        let log = Locked<[Request]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ScriptedResponder(respond: respond, record: { request in log.withLock { $0.append(request) } }))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = try #require(channel.localAddress?.port)
        return ScriptedHTTPServer(port: port, channel: channel, log: log)
    }

    func stop() async {
        try? await self.channel.close()
    }
}

/// Runs `body` with a started server and stops it afterwards.
func withScriptedHTTPServer<Result>(
    _ respond: @escaping ScriptedHTTPServer.Responder,
    _ body: (ScriptedHTTPServer) async throws -> Result
) async throws -> Result {
    let server = try await ScriptedHTTPServer.start(respond)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// A value shared between tasks and event loops, behind a lock.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { self.mutex = Mutex(value) }
    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { self.mutex.withLock { body(&$0) } }
}

private final class ScriptedResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let respond: ScriptedHTTPServer.Responder
    private let record: @Sendable (ScriptedHTTPServer.Request) -> Void
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(respond: @escaping ScriptedHTTPServer.Responder, record: @escaping @Sendable (ScriptedHTTPServer.Request) -> Void) {
        self.respond = respond
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body.clear()
        case .body(var chunk):
            self.body.writeBuffer(&chunk)
        case .end:
            guard let head = self.head else { return }
            let request = ScriptedHTTPServer.Request(method: head.method, uri: head.uri, headers: head.headers, body: String(buffer: self.body))
            self.record(request)
            let response = self.respond(request)
            var headers = HTTPHeaders(response.headers)
            headers.replaceOrAdd(name: "Content-Length", value: String(response.body.utf8.count))
            headers.replaceOrAdd(name: "Connection", value: "close")
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers))), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: response.body)))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
