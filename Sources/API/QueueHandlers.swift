import ACD
import Calls
import Foundation
import HotlineCore
import Hummingbird
import NIOCore

// Queues and agents (docs/queues.md, docs/api.md): state, statistics, agent log-in and state
// changes, the agent desk feed (server-sent events), and a supervisor moving a caller.

extension Handlers {
    private var queues: QueueService {
        get throws {
            guard let q = dependencies.queues else { throw APIError(.notFound, "no-queues", "this node has no queues") }
            return q
        }
    }

    func queueList() async throws -> Response {
        let list = await (try queues).queueSnapshots().map(Self.queueJSON)
        return .json(.object([("queues", .array(list))]))
    }

    func queue(_ context: some RequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        guard let snapshot = await (try queues).queueSnapshot(name) else {
            throw APIError(.notFound, "unknown-queue", "no queue named \(name.prefix(40))")
        }
        return .json(Self.queueJSON(snapshot))
    }

    func agentList() async throws -> Response {
        let list = await (try queues).agentSnapshots().map(Self.agentJSON)
        return .json(.object([("agents", .array(list))]))
    }

    func agent(_ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let snapshot = await (try queues).agentSnapshot(id) else { throw Self.acdError(.unknownAgent(id)) }
        return .json(Self.agentJSON(snapshot))
    }

    private struct LoginRequest: Decodable {
        var seat: String
        var ready: Bool?
    }

    /// `POST /v1/agents/{id}/login` `{"seat": "1001", "ready": true}`.
    func agentLogin(_ request: Request, context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let body = try await Self.decode(LoginRequest.self, from: request, context: context)
        guard !body.seat.isEmpty else { throw APIError.badRequest("bad-seat", "seat must be an account") }
        let service = try queues
        do {
            try await service.login(id, seat: body.seat, ready: body.ready ?? true)
        } catch {
            throw Self.acdError(any: error)
        }
        return try await agent(id: id, service)
    }

    func agentLogout(_ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let service = try queues
        do {
            try await service.logout(id)
        } catch {
            throw Self.acdError(any: error)
        }
        return try await agent(id: id, service)
    }

    private struct StateRequest: Decodable {
        var state: String
        var reason: String?
    }

    /// `POST /v1/agents/{id}/state` `{"state": "ready"}` or `{"state": "not-ready", "reason": "break"}`.
    func agentState(_ request: Request, context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let body = try await Self.decode(StateRequest.self, from: request, context: context)
        let service = try queues
        do {
            switch body.state {
            case "ready": try await service.setReady(id)
            case "not-ready": try await service.setNotReady(id, reason: body.reason.map { String($0.prefix(60)) } ?? "break")
            case "logged-out": try await service.logout(id)
            default:
                throw APIError.badRequest("bad-state", "state must be ready, not-ready or logged-out, not '\(body.state.prefix(20))'")
            }
        } catch {
            throw Self.acdError(any: error)
        }
        return try await agent(id: id, service)
    }

    private func agent(id: String, _ service: QueueService) async throws -> Response {
        guard let snapshot = await service.agentSnapshot(id) else { throw Self.acdError(.unknownAgent(id)) }
        return .json(Self.agentJSON(snapshot))
    }

    /// `GET /v1/agents/{id}/feed`: server-sent events (`state`, `offer`, `offer-ended`,
    /// `connected`, `call-ended`), a comment every 15 s to keep proxies from closing it.
    func agentFeed(_ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let stream: AsyncStream<AgentFeedEvent>
        do {
            stream = try await (try queues).feed(agent: id)
        } catch {
            throw Self.acdError(any: error)
        }
        let body = ResponseBody { writer in
            let (merged, input) = AsyncStream<ByteBuffer>.makeStream()
            let events = Task {
                for await event in stream {
                    let data = Self.fragment(.object(event.data)).bytes
                    var buffer = ByteBuffer(string: "event: \(event.type)\ndata: ")
                    buffer.writeBytes(data)
                    buffer.writeString("\n\n")
                    input.yield(buffer)
                }
                input.finish()
            }
            let keepAlive = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(15))
                    input.yield(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            defer {
                events.cancel()
                keepAlive.cancel()
            }
            for await chunk in merged { try await writer.write(chunk) }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
            body: body)
    }

    private struct MoveRequest: Decodable { var queue: String }

    /// `POST /v1/calls/{id}/move` `{"queue": "enterprise"}`: a supervisor moves a waiting caller.
    func moveCaller(_ request: Request, context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let body = try await Self.decode(MoveRequest.self, from: request, context: context)
        do {
            try await (try queues).move(id, to: body.queue)
        } catch {
            throw Self.acdError(any: error)
        }
        return .json(.object([("call", .string(id)), ("queue", .string(body.queue))]))
    }

    static func acdError(any error: any Error) -> any Error {
        (error as? ACDError).map { acdError($0) } ?? error
    }

    static func acdError(_ error: ACDError) -> APIError {
        switch error {
        case .unknownAgent: APIError(.notFound, "unknown-agent", error.description)
        case .unknownQueue: APIError(.notFound, "unknown-queue", error.description)
        case .unknownEntry: APIError(.notFound, "not-queued", error.description)
        case .illegalTransition: APIError(.conflict, "illegal-transition", error.description)
        case .seatTaken: APIError(.conflict, "seat-taken", error.description)
        case .seatNotRegistered: APIError(.conflict, "seat-not-registered", error.description)
        }
    }

    static func seconds(_ d: Duration) -> JSONFragment { .double(Double(d.acdMilliseconds) / 1000) }

    static func counters(_ c: QueueCounters) -> JSONFragment {
        .object([
            ("joined", .int(Int64(c.joined))), ("answered", .int(Int64(c.answered))),
            ("answeredWithinServiceLevel", .int(Int64(c.answeredWithinServiceLevel))),
            ("abandoned", .int(Int64(c.abandoned))), ("timedOut", .int(Int64(c.timedOut))),
            ("refused", .int(Int64(c.refused))), ("leftEmpty", .int(Int64(c.leftEmpty))),
            ("overflowed", .int(Int64(c.overflowed))), ("overflowedToRobot", .int(Int64(c.overflowedToRobot))),
            ("callbacksScheduled", .int(Int64(c.callbacksScheduled))),
            ("answerRate", .optional(c.answerRate)), ("serviceLevel", .optional(c.serviceLevel)),
            ("abandonRate", .optional(c.abandonRate)), ("averageSpeedOfAnswer", .optional(c.averageSpeedOfAnswer)),
            ("longestAnswerWait", .double(Double(c.longestAnswerWaitMs) / 1000)),
        ])
    }

    static func queueJSON(_ q: QueueSnapshot) -> JSONFragment {
        .object([
            ("name", .string(q.name)), ("strategy", .string(q.strategy.rawValue)),
            ("waiting", .int(Int64(q.waiting.count))), ("longestWait", seconds(q.longestWait)),
            ("agentsLoggedIn", .int(Int64(q.agentsLoggedIn))), ("agentsReady", .int(Int64(q.agentsReady))),
            ("agentsOnCall", .int(Int64(q.agentsOnCall))),
            ("predictedWait", q.predictedWait.map(seconds) ?? .null), ("averageHandlingTime", seconds(q.averageHandlingTime)),
            ("callers", .array(q.waiting.map { w in
                .object([
                    ("call", .string(w.entry)), ("position", .int(Int64(w.position))), ("priority", .int(Int64(w.priority))),
                    ("caller", .string(w.caller)), ("waited", seconds(w.waited)), ("ringing", .bool(w.offered)),
                    ("callback", .bool(w.callback)),
                ])
            })),
            ("total", counters(q.total)), ("last15Minutes", counters(q.last15Minutes)), ("lastHour", counters(q.lastHour)),
        ])
    }

    static func agentJSON(_ a: AgentSnapshot) -> JSONFragment {
        var call: JSONFragment = .null
        var reason: JSONFragment = .null
        switch a.state {
        case .reserved(let e), .onCall(let e): call = .string(e)
        case .notReady(let r): reason = .string(r)
        case .loggedOut, .ready, .wrapUp: break
        }
        return .object([
            ("id", .string(a.profile.id)), ("name", .string(a.profile.name)), ("state", .string(a.state.name)),
            ("reason", reason), ("call", call), ("seat", .optional(a.seat)), ("pending", .optional(a.pending)),
            ("queues", .object(a.profile.queues.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
            ("skills", .object(a.profile.skills.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
            ("answered", .int(Int64(a.answered))), ("consecutiveNoAnswer", .int(Int64(a.consecutiveNoAnswer))),
            ("occupancy", .optional(a.times.occupancy)),
        ])
    }

    static func fragment(_ value: JSONValue) -> JSONFragment {
        switch value {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .string(let s): .string(s)
        case .array(let a): .array(a.map(fragment))
        case .object(let o): .object(o.sorted { $0.key < $1.key }.map { ($0.key, fragment($0.value)) })
        }
    }
}
