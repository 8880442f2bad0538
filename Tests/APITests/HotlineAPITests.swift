import Calls
import Events
import Foundation
import HotlineCore
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Storage
import XCTest

@testable import API

/// Live calls for the API without a SIP stack.
struct FakeCalls: LiveCallsProvider {
    var list: [CallSnapshot] = []
    func snapshots() -> [CallSnapshot] { list }
    var activeCallCount: Int { list.count }
    func addParty(call: String, target: String) async throws(CallOperationError) {
        guard list.contains(where: { $0.id == call }) else { throw .notFound }
        if target == "unreachable" { throw .dialFailed(.notRegistered(target)) }
    }
    func monitor(call: String, supervisor: String, mode: MonitorMode) async throws(CallOperationError) {
        guard list.contains(where: { $0.id == call }) else { throw .notFound }
    }
    func setRecordingPaused(call: String, paused: Bool) throws(CallOperationError) {
        guard list.contains(where: { $0.id == call }) else { throw .notFound }
    }
}

/// A real outbox on a temporary directory. Its writer is not started: `flush()` commits on the
/// calling task (and wakes long-polls), which keeps the tests deterministic.
final class Fixture: Sendable {
    let directory: String
    let outbox: EventOutbox
    let registry = PrometheusCollectorRegistry()

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("hotline-api-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try HotlineStore(directory: directory)
        outbox = EventOutbox(store: store, configuration: OutboxConfiguration(source: "hotline://test"),
                             logger: Logger(label: "test.outbox"))
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func app(token: String? = nil, calls: FakeCalls = FakeCalls()) -> some ApplicationProtocol {
        let dependencies = APIDependencies(outbox: outbox, delivery: nil, calls: calls, registry: registry)
        return Application(router: HotlineAPI.router(dependencies: dependencies, token: token))
    }

    /// A whole call: received, answered, optionally a key, ended (the CDR).
    func call(_ id: String, caller: String = "13800000000", called: String = "12345", start: Date, key: Bool = false) {
        let callID = CallIdentifier(rawValue: id)
        var seq = 1
        func emit(_ type: String, _ data: [String: JSONValue], at offset: Double) {
            outbox.append(CallEvent(type: type, callID: callID, sequence: seq, time: start.addingTimeInterval(offset), data: data))
            seq += 1
        }
        emit(CallEventType.received, [
            "caller": .string(caller), "called": .string(called), "sipCallId": "abc@198.51.100.7",
            "transport": "UDP", "source": "198.51.100.7:5060", "language": "zh-CN",
        ], at: 0)
        emit(CallEventType.answered, ["codec": "PCMA"], at: 0.01)
        if key { emit(CallEventType.ivrInput, ["digit": "1", "menu": "main-menu"], at: 3) }
        let startedAt = Events.RFC3339.format(start)
        emit(CallEventType.ended, [
            "caller": .string(caller), "called": .string(called), "startedAt": .string(startedAt),
            "answeredAt": .string(Events.RFC3339.format(start.addingTimeInterval(0.01))),
            "endedAt": .string(Events.RFC3339.format(start.addingTimeInterval(10))),
            "durationMs": 10000, "talkMs": 9990, "cause": "caller-hangup", "hangupBy": "caller", "sipStatus": 200,
            "media": ["codec": "PCMA", "packetsSent": 500, "packetsReceived": 499, "packetsDropped": 0, "keys": key ? 1 : 0],
        ], at: 10)
    }
}

func json(_ response: TestResponse) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body))
    guard let dictionary = object as? [String: Any] else {
        throw NSError(domain: "APITests", code: 1, userInfo: [NSLocalizedDescriptionKey: "not a JSON object: \(String(buffer: response.body))"])
    }
    return dictionary
}

func errorCode(_ response: TestResponse) throws -> String? {
    ((try json(response))["error"] as? [String: Any])?["code"] as? String
}

/// `CallSnapshot` has no public memberwise initializer; build one through its Codable form.
func snapshot(id: String, caller: String = "13800000000", language: String = "zh-CN", state: String,
              startedAt: Date, answeredAt: Date?) throws -> CallSnapshot {
    var object: [String: Any] = [
        "id": id, "caller": caller, "called": "12345", "language": language, "state": state,
        "startedAt": startedAt.timeIntervalSince1970,
    ]
    if let answeredAt { object["answeredAt"] = answeredAt.timeIntervalSince1970 }
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .secondsSince1970
    return try decoder.decode(CallSnapshot.self, from: JSONSerialization.data(withJSONObject: object))
}

func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

/// 2025-05-04T09:30:00Z
let t0 = Date(timeIntervalSince1970: 1_746_351_000)

final class HotlineAPITests: XCTestCase {
    func testHealthNeedsNoTokenAndReportsStore() async throws {
        let f = try Fixture()
        let calls = FakeCalls(list: [try snapshot(id: "c1", state: "ringing", startedAt: t0, answeredAt: nil)])
        try await f.app(token: "secret-token-123456", calls: calls).test(.router) { client in
            let r = try await client.execute(uri: "/v1/health", method: .get)
            XCTAssertEqual(r.status, .ok)
            XCTAssertEqual(r.headers[.contentType], "application/json")
            let body = try json(r)
            XCTAssertEqual(body["status"] as? String, "ok")
            XCTAssertEqual(body["activeCalls"] as? Int, 1)
            XCTAssertEqual(body["store"] as? String, "ok")
        }
    }

    func testTokenRequiredExceptHealthAndOpenAPI() async throws {
        let f = try Fixture()
        let token = "secret-token-123456"
        try await f.app(token: token).test(.router) { client in
            for path in ["/v1/events", "/v1/calls", "/v1/cdr", "/v1/delivery", "/v1/events/dead", "/metrics", "/nowhere"] {
                let missing = try await client.execute(uri: path, method: .get)
                XCTAssertEqual(missing.status, .unauthorized, path)
                XCTAssertEqual(missing.headers[.wwwAuthenticate], "Bearer realm=\"hotline\"", path)
                XCTAssertEqual(try errorCode(missing), "unauthorized", path)
                for wrong in ["Bearer secret-token-12345", "Bearer secret-token-1234567", "Basic c2VjcmV0", "Bearer", "bearer  x"] {
                    let r = try await client.execute(uri: path, method: .get, headers: [.authorization: wrong])
                    XCTAssertEqual(r.status, .unauthorized, "\(path) with \(wrong)")
                    XCTAssertTrue(r.headers[.wwwAuthenticate]?.hasPrefix("Bearer") ?? false)
                }
            }
            for path in ["/v1/events", "/v1/calls", "/v1/cdr", "/v1/delivery", "/v1/events/dead", "/metrics"] {
                let r = try await client.execute(uri: path, method: .get, headers: bearer(token))
                XCTAssertEqual(r.status, .ok, path)
            }
            // Scheme names are case-insensitive (RFC 7235 section 2.1).
            let lower = try await client.execute(uri: "/v1/calls", method: .get, headers: [.authorization: "bearer \(token)"])
            XCTAssertEqual(lower.status, .ok)
            let health = try await client.execute(uri: "/v1/health", method: .get)
            XCTAssertEqual(health.status, .ok)
            let openapi = try await client.execute(uri: "/openapi.yaml", method: .get)
            XCTAssertEqual(openapi.status, .ok)
            XCTAssertEqual(openapi.headers[.contentType], "application/yaml")
            XCTAssertTrue(String(buffer: openapi.body).hasPrefix("openapi: 3.1"))
            XCTAssertTrue(String(buffer: openapi.body).contains("/v1/events/dead:"))
            let unknown = try await client.execute(uri: "/v1/nothing", method: .get, headers: bearer(token))
            XCTAssertEqual(unknown.status, .notFound)
            XCTAssertEqual(try errorCode(unknown), "not-found")
        }
    }

    func testNoTokenConfiguredMeansOpen() async throws {
        let f = try Fixture()
        try await f.app(token: nil).test(.router) { client in
            let r = try await client.execute(uri: "/v1/events", method: .get)
            XCTAssertEqual(r.status, .ok)
            XCTAssertEqual(String(buffer: r.body), "{\"events\":[],\"next\":\"0\"}\n")
        }
    }

    func testConstantTimeEqual() {
        XCTAssertTrue(constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        XCTAssertFalse(constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        XCTAssertFalse(constantTimeEqual([], Array("a".utf8)))
        XCTAssertTrue(constantTimeEqual([], []))
    }

    func testEventsPagingEmbedsCloudEvents() async throws {
        let f = try Fixture()
        f.call("aaaa", start: t0, key: true)  // 4 events
        f.call("bbbb", start: t0.addingTimeInterval(1))  // 3 events
        await f.outbox.flush()
        try await f.app().test(.router) { client in
            var after = "0"
            var ids: [String] = []
            var pages = 0
            while true {
                let r = try await client.execute(uri: "/v1/events?after=\(after)&limit=3", method: .get)
                XCTAssertEqual(r.status, .ok)
                let body = try json(r)
                let events = try XCTUnwrap(body["events"] as? [[String: Any]])
                let next = try XCTUnwrap(body["next"] as? String)
                if events.isEmpty {
                    XCTAssertEqual(next, after)
                    break
                }
                XCTAssertLessThanOrEqual(events.count, 3)
                for e in events {
                    XCTAssertEqual(e["specversion"] as? String, "1.0")
                    XCTAssertEqual(e["source"] as? String, "hotline://test")
                    XCTAssertNotNil(e["data"] as? [String: Any], "data is embedded JSON, not a string")
                    ids.append(try XCTUnwrap(e["id"] as? String))
                }
                XCTAssertGreaterThan(Int64(next)!, Int64(after)!)
                after = next
                pages += 1
            }
            XCTAssertEqual(pages, 3)
            XCTAssertEqual(ids, ["aaaa-1", "aaaa-2", "aaaa-3", "aaaa-4", "bbbb-1", "bbbb-2", "bbbb-3"])
            // Absent cursor: the beginning; default limit.
            let all = try json(try await client.execute(uri: "/v1/events", method: .get))
            XCTAssertEqual((all["events"] as? [Any])?.count, 7)
            XCTAssertEqual(all["next"] as? String, after)
            // The last cursor is valid and yields nothing.
            let end = try json(try await client.execute(uri: "/v1/events?after=\(after)", method: .get))
            XCTAssertEqual((end["events"] as? [Any])?.count, 0)
        }
    }

    func testBadCursorLimitAndWait() async throws {
        let f = try Fixture()
        f.call("aaaa", start: t0)
        await f.outbox.flush()
        let latest = try await f.outbox.latestCursor()
        try await f.app().test(.router) { client in
            for cursor in ["x", "-1", "1.0", "", "%20", "\(latest + 1)", "99999999999999999999", "0x1"] {
                let r = try await client.execute(uri: "/v1/events?after=\(cursor)", method: .get)
                XCTAssertEqual(r.status, .badRequest, cursor)
                XCTAssertEqual(try errorCode(r), "bad-cursor", cursor)
                XCTAssertEqual(r.headers[.contentType], "application/json")
            }
            let ok = try await client.execute(uri: "/v1/events?after=\(latest)", method: .get)
            XCTAssertEqual(ok.status, .ok)
            for (query, code) in [
                ("limit=0", "bad-limit"), ("limit=1001", "bad-limit"), ("limit=ten", "bad-limit"), ("limit=", "bad-limit"),
                ("wait=61", "bad-wait"), ("wait=-1", "bad-wait"), ("wait=nan", "bad-wait"), ("wait=soon", "bad-wait"),
            ] {
                let r = try await client.execute(uri: "/v1/events?\(query)", method: .get)
                XCTAssertEqual(r.status, .badRequest, query)
                XCTAssertEqual(try errorCode(r), code, query)
                let message = try XCTUnwrap((try json(r)["error"] as? [String: Any])?["message"] as? String)
                XCTAssertFalse(message.isEmpty)
            }
            for query in ["limit=1", "limit=1000", "wait=0", "wait=0.1"] {
                let r = try await client.execute(uri: "/v1/events?\(query)", method: .get)
                XCTAssertEqual(r.status, .ok, query)
            }
            let dead = try await client.execute(uri: "/v1/events/dead?limit=0", method: .get)
            XCTAssertEqual(try errorCode(dead), "bad-limit")
        }
    }

    func testLongPollReturnsWhenAnEventIsCommitted() async throws {
        let f = try Fixture()
        f.call("aaaa", start: t0)
        await f.outbox.flush()
        let latest = try await f.outbox.latestCursor()
        try await f.app().test(.router) { client in
            let started = ContinuousClock.now
            async let poll = client.execute(uri: "/v1/events?after=\(latest)&wait=10", method: .get)
            try await Task.sleep(for: .milliseconds(300))
            f.outbox.append(CallEvent(type: CallEventType.received, callID: CallIdentifier(rawValue: "cccc"), sequence: 1,
                                      time: t0, data: ["caller": "1", "called": "12345", "sipCallId": "x", "transport": "TCP",
                                                       "source": "127.0.0.1:5", "language": "zh-CN"]))
            await f.outbox.flush()
            let r = try await poll
            let took = ContinuousClock.now - started
            XCTAssertEqual(r.status, .ok)
            let body = try json(r)
            let events = try XCTUnwrap(body["events"] as? [[String: Any]])
            XCTAssertEqual(events.map { $0["id"] as? String }, ["cccc-1"])
            XCTAssertEqual(body["next"] as? String, String(latest + 1))
            XCTAssertGreaterThanOrEqual(took, .milliseconds(250))
            XCTAssertLessThan(took, .seconds(5), "the long-poll did not return early")

            // Nothing comes: an empty page after `wait`.
            let quiet = ContinuousClock.now
            let empty = try json(try await client.execute(uri: "/v1/events?after=\(latest + 1)&wait=0.5", method: .get))
            XCTAssertEqual((empty["events"] as? [Any])?.count, 0)
            XCTAssertEqual(empty["next"] as? String, String(latest + 1))
            XCTAssertGreaterThanOrEqual(ContinuousClock.now - quiet, .milliseconds(450))
        }
    }

    func testCDRFilters() async throws {
        let f = try Fixture()
        f.call("old1", caller: "111", start: t0)
        f.call("mid2", caller: "222", start: t0.addingTimeInterval(3600))
        f.call("new3", caller: "111", called: "12345", start: t0.addingTimeInterval(7200))
        await f.outbox.flush()
        try await f.app().test(.router) { client in
            func ids(_ query: String) async throws -> [String] {
                let r = try await client.execute(uri: "/v1/cdr\(query)", method: .get)
                XCTAssertEqual(r.status, .ok, query)
                let cdrs = try XCTUnwrap(try json(r)["cdrs"] as? [[String: Any]], query)
                return cdrs.map { $0["callId"] as? String ?? "?" }
            }
            let all = try await ids("")
            XCTAssertEqual(all, ["new3", "mid2", "old1"])
            let latest = try await ids("?limit=1")
            XCTAssertEqual(latest, ["new3"])
            let byCaller = try await ids("?number=111")
            XCTAssertEqual(byCaller, ["new3", "old1"])
            let byCalled = try await ids("?number=12345")
            XCTAssertEqual(byCalled, ["new3", "mid2", "old1"])
            let window = try await ids("?from=2025-05-04T10:30:00Z&to=2025-05-04T11:30:00.000Z")
            XCTAssertEqual(window, ["mid2"])
            let fromInclusive = try await ids("?from=2025-05-04T11:30:00Z")
            XCTAssertEqual(fromInclusive, ["new3"])
            let toExclusive = try await ids("?to=2025-05-04T10:30:00Z")
            XCTAssertEqual(toExclusive, ["old1"])
            let offset = try await ids("?from=2025-05-04T12:30:00%2B02:00")  // 10:30Z
            XCTAssertEqual(offset, ["new3", "mid2"])
            let rawPlus = try await ids("?from=2025-05-04T12:30:00+02:00")
            XCTAssertEqual(rawPlus, ["new3", "mid2"])

            // The record is the ended event's data, with the call id in front.
            let r = try json(try await client.execute(uri: "/v1/cdr?limit=1", method: .get))
            let cdr = try XCTUnwrap((r["cdrs"] as? [[String: Any]])?.first)
            XCTAssertEqual(cdr["callId"] as? String, "new3")
            XCTAssertEqual(cdr["seq"] as? Int, 3)
            XCTAssertEqual(cdr["cause"] as? String, "caller-hangup")
            XCTAssertEqual(cdr["startedAt"] as? String, "2025-05-04T11:30:00.000Z")
            XCTAssertEqual((cdr["media"] as? [String: Any])?["packetsSent"] as? Int, 500)

            for (query, code) in [
                ("from=yesterday", "bad-date"), ("to=2025-05-04", "bad-date"), ("from=2025-13-01T00:00:00Z", "bad-date"),
                ("from=2025-05-05T00:00:00Z&to=2025-05-04T00:00:00Z", "bad-date"),
                ("limit=0", "bad-limit"), ("limit=1001", "bad-limit"),
            ] {
                let r = try await client.execute(uri: "/v1/cdr?\(query)", method: .get)
                XCTAssertEqual(r.status, .badRequest, query)
                XCTAssertEqual(try errorCode(r), code, query)
            }
        }
    }

    func testCallsDeadEventsAndDelivery() async throws {
        let f = try Fixture()
        f.call("aaaa", start: t0, key: true)
        await f.outbox.flush()
        let events = try await f.outbox.events(after: 0, limit: 10)
        try await f.outbox.markDead(events[2].cursor, reason: "HTTP 400: no")
        let calls = FakeCalls(list: [
            try snapshot(id: "live1", state: "answered", startedAt: t0, answeredAt: t0.addingTimeInterval(0.25)),
            try snapshot(id: "live2", caller: "13900000000", language: "en-US", state: "ringing",
                         startedAt: t0.addingTimeInterval(1), answeredAt: nil),
        ])
        try await f.app(calls: calls).test(.router) { client in
            let callsResponse = try await client.execute(uri: "/v1/calls", method: .get)
            let list = try XCTUnwrap(try json(callsResponse)["calls"] as? [[String: Any]])
            XCTAssertEqual(list.count, 2)
            XCTAssertEqual(list[0]["id"] as? String, "live1")
            XCTAssertEqual(list[0]["startedAt"] as? String, "2025-05-04T09:30:00.000Z")
            XCTAssertEqual(list[0]["answeredAt"] as? String, "2025-05-04T09:30:00.250Z")
            XCTAssertEqual(list[1]["state"] as? String, "ringing")
            XCTAssertTrue(list[1]["answeredAt"] is NSNull, "absent values are null, not omitted")

            let deadResponse = try await client.execute(uri: "/v1/events/dead", method: .get)
            let dead = try XCTUnwrap(try json(deadResponse)["events"] as? [[String: Any]])
            XCTAssertEqual(dead.count, 1)
            XCTAssertEqual(dead[0]["id"] as? String, "aaaa-3")
            XCTAssertEqual(dead[0]["subject"] as? String, "aaaa")
            XCTAssertEqual(dead[0]["type"] as? String, CallEventType.ivrInput)
            XCTAssertEqual(dead[0]["cursor"] as? String, String(events[2].cursor))
            XCTAssertEqual(dead[0]["reason"] as? String, "HTTP 400: no")
            XCTAssertEqual((dead[0]["event"] as? [String: Any])?["id"] as? String, "aaaa-3")

            let delivery = try json(try await client.execute(uri: "/v1/delivery", method: .get))
            XCTAssertEqual(delivery["enabled"] as? Bool, false)
            XCTAssertNil(delivery["webhook"])
            let outbox = try XCTUnwrap(delivery["outbox"] as? [String: Any])
            XCTAssertEqual(outbox["appended"] as? Int, 4)
            XCTAssertEqual(outbox["committed"] as? Int, 4)
            XCTAssertTrue(outbox["storeError"] is NSNull)
            XCTAssertEqual(outbox["latestCursor"] as? String, String(events[3].cursor))
        }
    }

    func testMetricsAreEmitted() async throws {
        let f = try Fixture()
        f.registry.makeCounter(descriptor: .init(metricName: "hotline_test_total", unitName: "", helpText: "")).increment()
        try await f.app().test(.router) { client in
            let r = try await client.execute(uri: "/metrics", method: .get)
            XCTAssertEqual(r.status, .ok)
            XCTAssertTrue(r.headers[.contentType]?.hasPrefix("text/plain") ?? false)
            XCTAssertTrue(String(buffer: r.body).contains("hotline_test_total 1"))
        }
    }

    func testJSONStringEscaping() {
        let s = JSONFragment.object([("k\"", .string("a\\b\n\u{01}é")), ("n", .null), ("d", .double(.nan))])
        XCTAssertEqual(String(decoding: s.bytes, as: UTF8.self), "{\"k\\\"\":\"a\\\\b\\n\\u0001é\",\"n\":null,\"d\":null}")
    }

    func testCDRSplice() {
        func spliced(_ record: String) -> String {
            let cdr = Handlers.cdr(CDRRecord(callID: "c", startedAt: Date(), record: Array(record.utf8), endedAt: Date()))
            return String(decoding: cdr.bytes, as: UTF8.self)
        }
        XCTAssertEqual(spliced("{\"a\":1}"), "{\"callId\":\"c\",\"a\":1}")
        XCTAssertEqual(spliced("{}"), "{\"callId\":\"c\"}")
        XCTAssertEqual(spliced(" { } "), "{\"callId\":\"c\" } ")
        XCTAssertEqual(spliced("[1]"), "{\"callId\":\"c\",\"record\":[1]}")
    }
}
