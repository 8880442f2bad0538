import Calls
import Events
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The route handlers. Query parsing is strict: a bad value is a 400 with a code, never a
/// silent default.
struct Handlers: Sendable {
    let dependencies: APIDependencies

    static let defaultLimit = 100
    static let maxLimit = 1000
    static let maxWaitSeconds = 60.0

    // MARK: health, metrics, openapi

    func health() -> Response {
        let statistics = dependencies.outbox.statistics()
        return .json(.object([
            ("status", .string("ok")),
            ("activeCalls", .int(Int64(dependencies.calls.activeCallCount))),
            ("store", .string(statistics.storeError ?? "ok")),
        ]))
    }

    func metrics() -> Response {
        var bytes: [UInt8] = []
        dependencies.registry.emit(into: &bytes)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func openAPI() throws -> Response {
        guard let document = OpenAPIDocument.bytes else {
            throw APIError(.notFound, "not-found", "the OpenAPI document is not bundled with this build")
        }
        return Response(
            status: .ok, headers: [.contentType: "application/yaml"],
            body: .init(byteBuffer: ByteBuffer(bytes: document)))
    }

    // MARK: calls and CDRs

    /// The dialplans in use and the last reload attempt (docs/dialplan.md, "Reload").
    func dialplans() throws -> Response {
        guard let status = dependencies.dialplans?() else {
            return .json(.object([("error", .string("no dialplans on this node"))]), status: .notFound)
        }
        let plans = status.dialplans.map { plan -> JSONFragment in
            .object([
                ("name", .string(plan.name)), ("file", .string(plan.file)), ("start", .string(plan.start)),
                ("nodes", .int(Int64(plan.nodes))), ("languages", .array(plan.languages.map { .string($0) })),
            ])
        }
        return .json(.object([
            ("version", .int(Int64(status.version))),
            ("loadedAt", .date(status.loadedAt)),
            ("dialplans", .array(plans)),
            ("warnings", .array(status.warnings.map { .string($0) })),
            ("lastReload", .object([
                ("at", .date(status.lastAttempt)),
                ("ok", .bool(status.lastAttemptOK)),
                ("errors", .array(status.errors.map { .string($0) })),
            ])),
        ]))
    }

    func calls() -> Response {
        let calls = dependencies.calls.snapshots().map { call -> JSONFragment in
            .object([
                ("id", .string(call.id)),
                ("caller", .string(call.caller)),
                ("called", .string(call.called)),
                ("language", .string(call.language)),
                ("state", .string(call.state)),
                ("startedAt", .date(call.startedAt)),
                ("answeredAt", .optional(call.answeredAt)),
                ("dialplan", .optional(call.dialplan)),
                ("node", .optional(call.node)),
            ])
        }
        return .json(.object([("calls", .array(calls))]))
    }

    // MARK: call operations

    private struct ConferenceRequest: Decodable { var target: String }
    private struct MonitorRequest: Decodable { var supervisor: String; var mode: String }

    /// `POST /v1/calls/{id}/conference` `{"target": "1003"}`: dials the target and mixes it in.
    func conference(_ request: Request, context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let body = try await Self.decode(ConferenceRequest.self, from: request, context: context)
        guard !body.target.isEmpty else { throw APIError.badRequest("bad-target", "target must be an account or a number") }
        do {
            try await dependencies.calls.addParty(call: id, target: body.target)
        } catch {
            throw Self.apiError(error)
        }
        return .json(.object([("call", .string(id)), ("party", .string(body.target)), ("role", .string("party"))]))
    }

    /// `POST /v1/calls/{id}/monitor` `{"supervisor": "1009", "mode": "listen|whisper|barge"}`.
    func monitor(_ request: Request, context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let body = try await Self.decode(MonitorRequest.self, from: request, context: context)
        guard let mode = MonitorMode(rawValue: body.mode) else {
            throw APIError.badRequest("bad-mode", "mode must be listen, whisper or barge, not '\(body.mode.prefix(20))'")
        }
        guard !body.supervisor.isEmpty else { throw APIError.badRequest("bad-supervisor", "supervisor must be an account") }
        do {
            try await dependencies.calls.monitor(call: id, supervisor: body.supervisor, mode: mode)
        } catch {
            throw Self.apiError(error)
        }
        return .json(.object([("call", .string(id)), ("party", .string(body.supervisor)), ("role", .string(mode.rawValue))]))
    }

    private struct RecordingRequest: Decodable { var action: String }

    /// `POST /v1/calls/{id}/recording` `{"action": "pause"|"resume"}`.
    func recording(_ request: Request, context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let body = try await Self.decode(RecordingRequest.self, from: request, context: context)
        guard body.action == "pause" || body.action == "resume" else {
            throw APIError.badRequest("bad-action", "action must be pause or resume")
        }
        do {
            try dependencies.calls.setRecordingPaused(call: id, paused: body.action == "pause")
        } catch {
            throw Self.apiError(error)
        }
        return .json(.object([("call", .string(id)), ("recording", .string(body.action == "pause" ? "paused" : "recording"))]))
    }

    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let buffer = try await request.body.collect(upTo: 16 * 1024)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest("bad-body", "the body must be JSON like the examples in docs/api.md: \(error)")
        }
    }

    private static func apiError(_ error: CallOperationError) -> APIError {
        switch error {
        case .notFound: return APIError(.notFound, "not-found", "no live call with that id")
        case .notBridged, .notAnswered, .ended, .notRecorded: return APIError(.conflict, "call-state", "\(error)")
        case .dialFailed: return APIError(.badGateway, "dial-failed", "\(error)")
        }
    }

    func cdrs(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let from = try Self.date(query["from"], name: "from")
        let to = try Self.date(query["to"], name: "to")
        if let from, let to, from > to {
            throw APIError.badRequest("bad-date", "from (\(RFC3339.format(from))) is after to (\(RFC3339.format(to)))")
        }
        let number = query["number"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let limit = try Self.limit(query["limit"])
        let records: [CDRRecord]
        do {
            records = try await dependencies.outbox.cdrs(from: from, to: to, number: number, limit: limit)
        } catch {
            throw APIError.storeUnavailable(error)
        }
        return .json(.object([("cdrs", .array(records.map(Self.cdr)))]))
    }

    /// The stored record (the `data` of `hotline.call.ended`) with the call id in front, so a CDR
    /// can be joined with the call's events (`subject`).
    static func cdr(_ record: CDRRecord) -> JSONFragment {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(record.record.count + 48)
        bytes.append(UInt8(ascii: "{"))
        JSONFragment.writeString("callId", into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        JSONFragment.writeString(record.callID, into: &bytes)
        // The record is a JSON object written by the outbox: "{" members "}".
        var rest = record.record.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        guard rest.first == UInt8(ascii: "{") else {
            // Not an object (never written so): keep it whole rather than lose it.
            bytes.append(contentsOf: ",\"record\":".utf8)
            bytes.append(contentsOf: record.record)
            bytes.append(UInt8(ascii: "}"))
            return .raw(bytes)
        }
        rest = rest.dropFirst()
        let isEmpty = rest.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 } == UInt8(ascii: "}")
        if !isEmpty { bytes.append(UInt8(ascii: ",")) }
        bytes.append(contentsOf: rest)
        return .raw(bytes)
    }

    // MARK: events

    func events(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try Self.limit(query["limit"])
        let wait = try Self.wait(query["wait"])
        let outbox = dependencies.outbox
        let cursor = try await validCursor(query["after"])

        var events: [StoredEvent]
        do {
            events = try await outbox.events(after: cursor, limit: limit)
            if events.isEmpty, wait > 0 {
                let deadline = ContinuousClock.now + .milliseconds(Int64(wait * 1000))
                // Wake-ups may be spurious (a commit that raced with the read), so wait again
                // until the deadline. On graceful shutdown the poll answers at once (possibly
                // empty), so an open long-poll never holds the HTTP server's shutdown.
                while events.isEmpty, ContinuousClock.now < deadline, !Task.isCancelled,
                    !Task.isShuttingDownGracefully
                {
                    let left = deadline - ContinuousClock.now
                    _ = await cancelWhenGracefulShutdown {
                        await outbox.waitForEvents(after: cursor, timeout: left)
                    }
                    events = try await outbox.events(after: cursor, limit: limit)
                }
            }
        } catch {
            throw APIError.storeUnavailable(error)
        }
        let next = events.last?.cursor ?? cursor
        return .json(.object([
            ("events", .array(events.map { .raw($0.cloudEvent) })),
            ("next", .string(String(next))),
        ]))
    }

    /// The `after` cursor: absent means the beginning; anything but a decimal between 0 and
    /// the latest committed cursor is `bad-cursor`.
    private func validCursor(_ raw: Substring?) async throws -> Int64 {
        guard let raw else { return 0 }
        guard !raw.isEmpty, raw.allSatisfy({ $0.isASCII && $0.isNumber }), let cursor = Int64(raw) else {
            throw APIError.badRequest("bad-cursor", "after must be a cursor returned as next by this API, not '\(raw.prefix(40))'")
        }
        let latest: Int64
        do {
            latest = try await dependencies.outbox.latestCursor()
        } catch {
            throw APIError.storeUnavailable(error)
        }
        guard cursor <= latest else {
            throw APIError.badRequest("bad-cursor", "cursor \(cursor) is beyond the latest event (\(latest)): it was not issued by this node's store")
        }
        return cursor
    }

    func deadEvents(_ request: Request) async throws -> Response {
        let limit = try Self.limit(request.uri.queryParameters["limit"])
        let dead: [StoredEvent]
        do {
            dead = try await dependencies.outbox.deadEvents(limit: limit)
        } catch {
            throw APIError.storeUnavailable(error)
        }
        let items = dead.map { event -> JSONFragment in
            .object([
                ("cursor", .string(String(event.cursor))),
                ("id", .string(event.id)),
                ("type", .string(event.type)),
                ("subject", .string(event.callID)),
                ("reason", .optional(event.deadReason)),
                ("event", .raw(event.cloudEvent)),
            ])
        }
        return .json(.object([("events", .array(items))]))
    }

    // MARK: delivery

    func delivery() -> Response {
        let o = dependencies.outbox.statistics()
        let outbox = JSONFragment.object([
            ("appended", .int(o.appended)),
            ("committed", .int(o.committed)),
            ("buffered", .int(Int64(o.buffered))),
            ("dropped", .int(o.dropped)),
            ("storeError", .optional(o.storeError)),
            ("lastCommitAt", .optional(o.lastCommitAt)),
            ("latestCursor", .string(String(o.latestCursor))),
        ])
        guard let delivery = dependencies.delivery else {
            return .json(.object([("enabled", .bool(false)), ("outbox", outbox)]))
        }
        let d = delivery.statistics()
        return .json(.object([
            ("enabled", .bool(true)),
            ("webhook", .object([
                ("url", .string(d.url)),
                ("delivered", .int(d.delivered)),
                ("failedAttempts", .int(d.failedAttempts)),
                ("dead", .int(d.dead)),
                ("backlog", .int(d.backlog)),
                ("lagSeconds", .optional(d.lagSeconds)),
                ("lastError", .optional(d.lastError)),
                ("lastSuccessAt", .optional(d.lastSuccessAt)),
                ("cursor", .string(String(d.cursor))),
            ])),
            ("outbox", outbox),
        ]))
    }

    // MARK: query parameters

    static func limit(_ raw: Substring?) throws -> Int {
        guard let raw else { return defaultLimit }
        guard let value = Int(raw), (1...maxLimit).contains(value) else {
            throw APIError.badRequest("bad-limit", "limit must be an integer from 1 to \(maxLimit), not '\(raw.prefix(40))'")
        }
        return value
    }

    static func wait(_ raw: Substring?) throws -> Double {
        guard let raw else { return 0 }
        guard let value = Double(raw), value.isFinite, (0...maxWaitSeconds).contains(value) else {
            throw APIError.badRequest("bad-wait", "wait must be a number of seconds from 0 to \(Int(maxWaitSeconds)), not '\(raw.prefix(40))'")
        }
        return value
    }

    static func date(_ raw: Substring?, name: String) throws -> Date? {
        guard let raw else { return nil }
        guard let date = RFC3339.parse(String(raw)) else {
            throw APIError.badRequest("bad-date", "\(name) must be an RFC 3339 date-time (2025-05-04T09:30:00Z), not '\(raw.prefix(40))'")
        }
        return date
    }
}

/// Sources/API/openapi.yaml, bundled as a resource.
enum OpenAPIDocument {
    static let bytes: [UInt8]? = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return Array(data)
    }()
}
