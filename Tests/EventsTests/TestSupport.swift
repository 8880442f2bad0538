import Foundation
import HotlineCore
import Logging
import NIOCore
import NIOPosix
import XCTest

@testable import Events
import Storage

/// A fresh temporary directory, removed by the test's teardown.
func makeTemporaryDirectory(_ test: XCTestCase) -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("hotline-events-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

var testLogger: Logger {
    var logger = Logger(label: "events-tests")
    logger.logLevel = ProcessInfo.processInfo.environment["EVENTS_TEST_LOG"] != nil ? .debug : .critical
    return logger
}

func makeOutbox(directory: String, durability: HotlineStore.Durability = .full,
                configure: (inout OutboxConfiguration) -> Void = { _ in }) throws -> EventOutbox {
    let store = try HotlineStore(directory: directory, durability: durability)
    var configuration = OutboxConfiguration(source: "hotline://test")
    configuration.retryInterval = .milliseconds(50)
    configure(&configuration)
    return EventOutbox(store: store, configuration: configuration, logger: testLogger)
}

/// Runs a service in a task; `stop` triggers its shutdown and waits for `run()` to return.
struct RunningOutbox {
    let outbox: EventOutbox
    let task: Task<Void, any Error>

    init(_ outbox: EventOutbox) {
        self.outbox = outbox
        self.task = Task { try await outbox.run() }
    }

    func stop() async throws {
        outbox.triggerShutdown()
        try await task.value
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), file: StaticString = #filePath, line: UInt = #line,
                _ condition: () async throws -> Bool) async rethrows {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try? await Task.sleep(for: .milliseconds(10))
    }
    if try await condition() { return }
    XCTFail("condition not met within \(timeout)", file: file, line: line)
}

func event(_ type: String, call: String, seq: Int, data: [String: JSONValue] = [:],
           time: Date = Date()) -> CallEvent {
    CallEvent(type: type, callID: CallIdentifier(rawValue: call), sequence: seq, time: time, data: data)
}

func jsonObject(_ bytes: [UInt8]) throws -> [String: Any] {
    try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}

/// The `data.seq` of a stored CloudEvent.
func sequence(of stored: StoredEvent) throws -> Int {
    let object = try jsonObject(stored.cloudEvent)
    let data = try XCTUnwrap(object["data"] as? [String: Any])
    return try XCTUnwrap(data["seq"] as? Int)
}

final class Box<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var get: Value { withLock { $0 } }
}

// MARK: A tiny HTTP/1.1 receiver on 127.0.0.1 (NIO), for webhook tests

struct ReceivedRequest: Sendable {
    var method: String
    var path: String
    /// Lower-cased names.
    var headers: [String: String]
    var body: [UInt8]
    var status: Int
}

final class TestHTTPServer: @unchecked Sendable {
    /// Decides the answer to the n-th request (1-based): status and body.
    typealias Responder = @Sendable (_ number: Int, _ method: String, _ headers: [String: String], _ body: [UInt8])
        -> (status: Int, body: String)

    let responder: Responder
    let requests = Box<[ReceivedRequest]>([])
    private var channel: (any Channel)?

    private init(responder: @escaping Responder) {
        self.responder = responder
    }

    static func start(port: Int = 0, responder: @escaping Responder = { _, _, _, _ in (200, "ok") }) async throws
        -> TestHTTPServer
    {
        let server = TestHTTPServer(responder: responder)
        server.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HTTPRequestHandler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return server
    }

    var port: Int { channel?.localAddress?.port ?? 0 }
    var url: String { "http://127.0.0.1:\(port)/hook" }

    func stop() async throws {
        try await channel?.close()
    }

    fileprivate func handle(method: String, path: String, headers: [String: String], body: [UInt8]) -> (Int, String) {
        let number = requests.withLock { $0.count } + 1
        let (status, text) = responder(number, method, headers, body)
        requests.withLock {
            $0.append(ReceivedRequest(method: method, path: path, headers: headers, body: body, status: status))
        }
        return (status, text)
    }

    /// Event ids of the requests answered 2xx, in arrival order.
    func acceptedEventIDs() throws -> [String] {
        var ids: [String] = []
        for request in requests.get where (200..<300).contains(request.status) {
            ids += try eventIDs(in: request)
        }
        return ids
    }
}

func eventIDs(in request: ReceivedRequest) throws -> [String] {
    let json = try JSONSerialization.jsonObject(with: Data(request.body))
    if let array = json as? [[String: Any]] { return array.compactMap { $0["id"] as? String } }
    if let object = json as? [String: Any], let id = object["id"] as? String { return [id] }
    return []
}

private final class HTTPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: TestHTTPServer
    private var buffer: [UInt8] = []

    init(server: TestHTTPServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer += bytes.readBytes(length: bytes.readableBytes) ?? []
        while let request = nextRequest() {
            let (status, text) = server.handle(method: request.0, path: request.1, headers: request.2, body: request.3)
            let response = "HTTP/1.1 \(status) Test\r\nContent-Type: text/plain\r\nContent-Length: \(text.utf8.count)\r\n\r\n\(text)"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
        }
    }

    private func nextRequest() -> (String, String, [String: String], [UInt8])? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard buffer.count >= 4,
              let end = (0...(buffer.count - 4)).first(where: { buffer[$0..<($0 + 4)].elementsEqual(separator) })
        else { return nil }
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard buffer.count >= end + 4 + length else { return nil }
        let body = Array(buffer[(end + 4)..<(end + 4 + length)])
        buffer.removeFirst(end + 4 + length)
        return (requestLine.count > 0 ? String(requestLine[0]) : "", requestLine.count > 1 ? String(requestLine[1]) : "",
                headers, body)
    }
}
