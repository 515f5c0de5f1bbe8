import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import Testing

/// A real HTTP/1.1 server on 127.0.0.1 (optionally in TLS) answering every request with one
/// canned response, and recording the request targets it received.
final class LoopbackHTTPServer: Sendable {
    /// What the server answers.
    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: String = ""
        /// Send the head (promising the body) and then nothing more: a service wedged mid-answer.
        var stallsAfterHead = false
    }

    let port: Int
    private let channel: any Channel
    private let log: RequestLog

    /// `http://127.0.0.1:<port>` (or https), without a path.
    let baseURL: String

    private init(port: Int, channel: any Channel, log: RequestLog, scheme: String) {
        self.port = port
        self.channel = channel
        self.log = log
        self.baseURL = "\(scheme)://127.0.0.1:\(port)"
    }

    /// The request targets (path and query) received so far, in order.
    var receivedRequests: [String] { self.log.entries }

    /// The request heads (method, target, headers) received so far, in order.
    var receivedHeads: [HTTPRequestHead] { self.log.heads }

    /// Connections accepted so far (a client reusing connections would make fewer than requests).
    var acceptedConnections: Int { self.log.connections }

    static func start(responding response: Response, tls: NIOSSLContext? = nil) async throws -> LoopbackHTTPServer {
        let log = RequestLog()
        let channel = try await LoopbackPorts.bind { port in
            try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    log.connectionAccepted()
                    return channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        }
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(CannedResponder(response: response, log: log))
                    }
                }
                .bind(host: "127.0.0.1", port: port)
                .get()
        }
        let port = try #require(channel.localAddress?.port)
        return LoopbackHTTPServer(port: port, channel: channel, log: log, scheme: tls == nil ? "http" : "https")
    }

    func stop() async {
        try? await self.channel.close()
    }
}

/// Runs `body` with a started server and stops it afterwards.
func withLoopbackHTTPServer<Result>(
    responding response: LoopbackHTTPServer.Response,
    tls: NIOSSLContext? = nil,
    _ body: (LoopbackHTTPServer) async throws -> Result
) async throws -> Result {
    let server = try await LoopbackHTTPServer.start(responding: response, tls: tls)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// Request targets and connections seen by a server, shared between its connections.
final class RequestLog: Sendable {
    private let storage = Mutex<(requests: [String], heads: [HTTPRequestHead], connections: Int)>(([], [], 0))

    func append(_ head: HTTPRequestHead) { self.storage.withLock { $0.requests.append(head.uri); $0.heads.append(head) } }
    func connectionAccepted() { self.storage.withLock { $0.connections += 1 } }
    var entries: [String] { self.storage.withLock { $0.requests } }
    var heads: [HTTPRequestHead] { self.storage.withLock { $0.heads } }
    var connections: Int { self.storage.withLock { $0.connections } }
}

/// Answers each request with the canned response. Like a real server it keeps the connection
/// open for another request unless the client asked to close, so tests can tell whether the
/// client reuses connections.
private final class CannedResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let response: LoopbackHTTPServer.Response
    private let log: RequestLog
    private var keepAlive = true
    private var isHead = false

    init(response: LoopbackHTTPServer.Response, log: RequestLog) {
        self.response = response
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.log.append(head)
            self.keepAlive = head.isKeepAlive
            self.isHead = head.method == .HEAD
        case .body:
            break
        case .end:
            self.respond(context: context)
        }
    }

    private func respond(context: ChannelHandlerContext) {
        var headers = HTTPHeaders(self.response.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(self.response.body.utf8.count))
        headers.replaceOrAdd(name: "Connection", value: self.keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(
            version: .http1_1,
            status: HTTPResponseStatus(statusCode: self.response.status),
            headers: headers
        )
        guard !self.response.stallsAfterHead else {
            context.writeAndFlush(self.wrapOutboundOut(.head(head)), promise: nil)
            return
        }
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        // A HEAD response announces the body's length but carries none.
        if !self.isHead {
            let body = context.channel.allocator.buffer(string: self.response.body)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !self.keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
