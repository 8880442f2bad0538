import Foundation
import HotlineCore
import Logging

/// How a call's run through its dialplan ended.
public enum DialplanRunOutcome: Sendable, Equatable {
    /// A `hangup` verb, or a node that ended without going elsewhere.
    case hungUp
    /// The caller was connected (queue, dial, transfer) and that conversation is over.
    case connected
    /// The step or duration limit was hit: goodbye and hang-up.
    case limitReached(String)
    /// The caller hung up (or the call failed) under the dialplan.
    case callEnded(HangupCause)
}

/// Runs one call through one dialplan version (docs/dialplan.md). One instance per call; the
/// dialplan it holds is the version the call started on, whatever reloads happen meanwhile.
public struct DialplanInterpreter: Sendable {
    public let plan: Dialplan
    /// The dialplan set's version, for the events.
    public let version: Int
    public let calendar: HolidayCalendar
    /// The wall clock (a virtual one in tests): conditions and the duration limit.
    public let now: @Sendable () -> Date
    private let logger: Logger

    public init(plan: Dialplan, version: Int, calendar: HolidayCalendar, now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.plan = plan
        self.version = version
        self.calendar = calendar
        self.now = now
        self.logger = logger
    }

    /// Where the run is: mutable state of one call's run.
    private struct Run {
        var node: String
        var step = 0
        var stepsTaken = 0
        var variables: [String: String]
        var answered = false
        var path: [String] = []
        let startedAt: Date
        /// Time spent in queues and dialled calls: not counted by `limits.duration`.
        var outsideIVR: TimeInterval = 0
    }

    /// Where to go after a step.
    private enum Next {
        case nextStep
        case node(String, reason: String)
        case finished(DialplanRunOutcome)
    }

    /// Runs the call from `plan.start`. `variables` are the call's initial variables (the
    /// config's `dialplans.variables`, the repeat counts...) over the dialplan's own.
    public func run(_ call: some DialplanCall, language: String? = nil, variables: [String: String] = [:]) async -> DialplanRunOutcome {
        var vars = plan.variables.merging(variables) { _, new in new }
        vars["caller"] = call.callerNumber
        vars["called"] = call.calledNumber
        vars["call.id"] = call.id.rawValue
        vars["dialplan"] = plan.name
        let lang = language.flatMap { plan.languages.contains($0) ? $0 : nil } ?? plan.language
        vars["language"] = lang
        if vars["voice"] != "elderly" { vars["voice"] = "normal" }
        var run = Run(node: plan.start.value, variables: vars, startedAt: now())
        enter(&run, plan.start.value, reason: "start", call: call)
        do {
            return try await loop(&run, call)
        } catch {
            return .callEnded(error.cause)
        }
    }

    private func loop(_ run: inout Run, _ call: some DialplanCall) async throws(CallEnded) -> DialplanRunOutcome {
        while true {
            guard let node = plan.nodes[run.node] else {
                logger.error("dialplan names an unknown node", metadata: ["node": "\(run.node)"])
                await call.hangup()
                return .hungUp
            }
            guard run.step < node.steps.count else {
                // Fell off the end of the node (the validator warns): the call ends here.
                await call.hangup()
                return .hungUp
            }
            if let limit = limitReached(run) {
                return try await stop(call, limit: limit, run: &run)
            }
            run.stepsTaken += 1
            let step = node.steps[run.step]
            switch try await execute(step.verb, &run, call) {
            case .nextStep:
                run.step += 1
            case .node(let target, let reason):
                enter(&run, target, reason: reason, call: call)
            case .finished(let outcome):
                return outcome
            }
        }
    }

    private func limitReached(_ run: Run) -> String? {
        if run.stepsTaken >= plan.limits.steps { return "steps" }
        let inIVR = now().timeIntervalSince(run.startedAt) - run.outsideIVR
        if inIVR >= Double(plan.limits.duration.components.seconds) { return "duration" }
        return nil
    }

    private func stop(_ call: some DialplanCall, limit: String, run: inout Run) async throws(CallEnded) -> DialplanRunOutcome {
        logger.notice("dialplan limit reached; goodbye", metadata: ["limit": "\(limit)", "node": "\(run.node)", "steps": "\(run.stepsTaken)"])
        call.emit(CallEventType.ivrNode, [
            "dialplan": .string(plan.name), "version": .int(Int64(version)), "node": .string(run.node),
            "reason": .string("limit-\(limit)"),
        ])
        try await ensureAnswered(&run, call)
        _ = try await call.play([plan.limits.goodbyePrompt], language: run.variables["language"] ?? plan.language,
                                voice: run.variables["voice"] ?? "normal", interruptible: false)
        await call.hangup()
        return .limitReached(limit)
    }

    private func enter(_ run: inout Run, _ node: String, reason: String, call: some DialplanCall) {
        let from = run.path.last
        run.node = node
        run.step = 0
        run.path.append(node)
        run.variables["node"] = node
        var data: [String: JSONValue] = [
            "dialplan": .string(plan.name), "version": .int(Int64(version)), "node": .string(node), "reason": .string(reason),
        ]
        data["from"] = from.map { .string($0) } ?? .null
        call.emit(CallEventType.ivrNode, data)
    }

    private func ensureAnswered(_ run: inout Run, _ call: some DialplanCall) async throws(CallEnded) {
        guard !run.answered else { return }
        try await call.answer()
        run.answered = true
    }

    private func expand(_ template: String, _ run: Run) -> String {
        Template.expand(template) { run.variables[$0] }
    }

    // MARK: Verbs

    private func execute(_ verb: Verb, _ run: inout Run, _ call: some DialplanCall) async throws(CallEnded) -> Next {
        let language = run.variables["language"] ?? plan.language
        let voice = run.variables["voice"] ?? "normal"
        switch verb {
        case .answer:
            try await ensureAnswered(&run, call)
            return .nextStep

        case .play(let play):
            try await ensureAnswered(&run, call)
            _ = try await call.play(play.prompts.map(\.value), language: language, voice: voice, interruptible: play.interruptible)
            return .nextStep

        case .say(let say):
            try await ensureAnswered(&run, call)
            let text = expand(say.text.value, run)
            if !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                _ = try await call.say(text, language: language, voice: voice, interruptible: say.interruptible)
            }
            return .nextStep

        case .menu(let menu):
            try await ensureAnswered(&run, call)
            return try await self.menu(menu, &run, call)

        case .gather(let gather):
            try await ensureAnswered(&run, call)
            return try await self.gather(gather, &run, call)

        case .goto(let target):
            return .node(target.value, reason: "goto")

        case .set(let assignments):
            for assignment in assignments {
                assign(assignment.variable.value, expand(assignment.value.value, run), &run)
            }
            return .nextStep

        case .when(let when):
            let context = conditionContext(run, call)
            for branch in when.branches where ConditionEvaluator.holds(branch, in: context) {
                return .node(branch.target.value, reason: "when")
            }
            if let otherwise = when.otherwise { return .node(otherwise.value, reason: "when") }
            return .nextStep

        case .enqueue(let enqueue):
            try await ensureAnswered(&run, call)
            var context = run.variables
            context["ivr.path"] = run.path.joined(separator: ">")
            let queuedAt = now()
            let outcome = try await call.enqueue(QueueRequest(
                queue: enqueue.queue.value, priority: enqueue.priority, skills: enqueue.skills.map(\.value),
                timeout: enqueue.timeout, context: context))
            run.outsideIVR += now().timeIntervalSince(queuedAt)
            switch outcome {
            case .connected:
                await call.hangup()
                return .finished(.connected)
            case .left(let reason):
                run.variables["queue.result"] = reason
                if let next = enqueue.next { return .node(next.value, reason: "queue-\(reason.lowercased())") }
                return .nextStep
            case .overflow(let node):
                run.variables["queue.result"] = "OVERFLOW"
                if plan.nodes[node] != nil { return .node(node, reason: "queue-overflow") }
                logger.warning("queue overflow names a node this dialplan lacks", metadata: ["node": "\(node)", "dialplan": "\(plan.name)"])
                if let next = enqueue.next { return .node(next.value, reason: "queue-overflow") }
                return .nextStep
            case .callback:
                run.variables["queue.result"] = "CALLBACK"
                await call.hangup()
                return .finished(.hungUp)
            }

        case .dial(let dial):
            try await ensureAnswered(&run, call)
            if !dial.prompt.isEmpty {
                _ = try await call.play(dial.prompt.map(\.value), language: language, voice: voice, interruptible: false)
            }
            let target = expand(dial.target.value, run)
            let dialledAt = now()
            let outcome = try await call.dial(DialRequest(target: target, trunk: dial.trunk?.value, mode: dial.mode, timeout: dial.timeout))
            run.outsideIVR += now().timeIntervalSince(dialledAt)
            switch outcome {
            case .connected:
                run.variables["dial.status"] = "answered"
                await call.hangup()
                return .finished(.connected)
            case .failed(let status):
                run.variables["dial.status"] = status
                if let onFailure = dial.onFailure { return .node(onFailure.value, reason: "dial-\(status)") }
                return .nextStep
            }

        case .record(let record):
            try await ensureAnswered(&run, call)
            if !record.prompt.isEmpty {
                _ = try await call.play(record.prompt.map(\.value), language: language, voice: voice, interruptible: true)
            }
            let message = try await call.recordMessage(MessageRequest(
                maxLength: record.maxLength, silence: record.silence, terminator: record.terminator, beep: record.beep))
            if let variable = record.variable { run.variables[variable.value] = message?.path ?? "" }
            run.variables["message"] = message?.path ?? ""
            if let next = record.next { return .node(next.value, reason: "record") }
            return .nextStep

        case .robot(let robot):
            // The voice robot is a later issue: every hand-off goes to the fallback for now.
            logger.info("robot unavailable; fallback", metadata: ["fallback": "\(robot.fallback.value)"])
            return .node(robot.fallback.value, reason: "robot-unavailable")

        case .webhook(let webhook):
            return await self.webhook(webhook, &run, call)

        case .hangup(let hangup):
            if !hangup.prompt.isEmpty {
                try await ensureAnswered(&run, call)
                _ = try await call.play(hangup.prompt.map(\.value), language: language, voice: voice, interruptible: false)
            }
            await call.hangup()
            return .finished(.hungUp)
        }
    }

    private func assign(_ name: String, _ value: String, _ run: inout Run) {
        switch name {
        case "language":
            guard plan.languages.contains(value) else {
                logger.warning("language not in the dialplan's languages; ignored", metadata: ["language": "\(value)"])
                return
            }
        case "voice":
            guard value == "normal" || value == "elderly" else {
                logger.warning("unknown voice; ignored", metadata: ["voice": "\(value)"])
                return
            }
        case "caller", "called", "call.id", "dialplan", "node":
            logger.warning("built-in variable is read-only; ignored", metadata: ["variable": "\(name)"])
            return
        default:
            break
        }
        run.variables[name] = value
    }

    private func conditionContext(_ run: Run, _ call: some DialplanCall) -> ConditionContext {
        let variables = run.variables
        return ConditionContext(
            now: now(), timeZone: plan.timeZone, calendar: calendar, caller: call.callerNumber, called: call.calledNumber,
            lists: plan.callerLists, variables: variables)
    }

    private func inputEvent(_ call: some DialplanCall, _ run: Run, kind: String, input: String, result: String, attempt: Int) {
        call.emit(CallEventType.ivrInput, [
            "dialplan": .string(plan.name), "node": .string(run.node), "kind": .string(kind), "input": .string(input),
            "result": .string(result), "attempt": .int(Int64(attempt)),
        ])
    }

    private func menu(_ menu: Menu, _ run: inout Run, _ call: some DialplanCall) async throws(CallEnded) -> Next {
        let language = run.variables["language"] ?? plan.language
        let voice = run.variables["voice"] ?? "normal"
        for attempt in 1...max(1, menu.attempts) {
            if !menu.prompts.prompt.isEmpty {
                _ = try await call.play(menu.prompts.prompt.map(\.value), language: language, voice: voice, interruptible: true)
            }
            guard let key = try await call.collectDigit(timeout: menu.timeout) else {
                inputEvent(call, run, kind: "menu", input: "", result: "no-input", attempt: attempt)
                if !menu.prompts.noInput.isEmpty {
                    _ = try await call.play(menu.prompts.noInput.map(\.value), language: language, voice: voice, interruptible: true)
                }
                continue
            }
            if let option = menu.options.first(where: { $0.key.value == key }) {
                inputEvent(call, run, kind: "menu", input: String(key), result: "match", attempt: attempt)
                run.variables["digits"] = String(key)
                if let variable = menu.variable { run.variables[variable.value] = String(key) }
                return .node(option.node.value, reason: "menu")
            }
            inputEvent(call, run, kind: "menu", input: String(key), result: "invalid", attempt: attempt)
            if !menu.prompts.invalid.isEmpty {
                _ = try await call.play(menu.prompts.invalid.map(\.value), language: language, voice: voice, interruptible: true)
            }
        }
        if let onFailure = menu.onFailure { return .node(onFailure.value, reason: "menu-failure") }
        return .nextStep
    }

    private func gather(_ gather: Gather, _ run: inout Run, _ call: some DialplanCall) async throws(CallEnded) -> Next {
        let language = run.variables["language"] ?? plan.language
        let voice = run.variables["voice"] ?? "normal"
        let pattern = gather.pattern.flatMap { try? NSRegularExpression(pattern: "^(?:\($0.value))$") }
        for attempt in 1...max(1, gather.attempts) {
            if !gather.prompts.prompt.isEmpty {
                _ = try await call.play(gather.prompts.prompt.map(\.value), language: language, voice: voice, interruptible: true)
            }
            var digits = ""
            var key = try await call.collectDigit(timeout: gather.firstDigitTimeout)
            if key == nil {
                inputEvent(call, run, kind: "gather", input: "", result: "no-input", attempt: attempt)
                if !gather.prompts.noInput.isEmpty {
                    _ = try await call.play(gather.prompts.noInput.map(\.value), language: language, voice: voice, interruptible: true)
                }
                continue
            }
            while let k = key {
                if k == gather.terminator { break }
                digits.append(k)
                if digits.count >= gather.maxDigits { break }
                key = try await call.collectDigit(timeout: gather.interDigitTimeout)
            }
            let matches = pattern.map { $0.firstMatch(in: digits, range: NSRange(digits.startIndex..., in: digits)) != nil } ?? true
            if digits.count >= gather.minDigits, matches {
                inputEvent(call, run, kind: "gather", input: digits, result: "match", attempt: attempt)
                run.variables[gather.variable.value] = digits
                run.variables["digits"] = digits
                if let next = gather.next { return .node(next.value, reason: "gather") }
                return .nextStep
            }
            inputEvent(call, run, kind: "gather", input: digits, result: "invalid", attempt: attempt)
            if !gather.prompts.invalid.isEmpty {
                _ = try await call.play(gather.prompts.invalid.map(\.value), language: language, voice: voice, interruptible: true)
            }
        }
        run.variables[gather.variable.value] = ""
        if let onFailure = gather.onFailure { return .node(onFailure.value, reason: "gather-failure") }
        return .nextStep
    }

    private func webhook(_ webhook: Webhook, _ run: inout Run, _ call: some DialplanCall) async -> Next {
        let url = expand(webhook.url.value, run)
        var parameters: [String: String] = [:]
        for (name, value) in webhook.parameters { parameters[name] = expand(value.value, run) }
        let result = await call.webhook(WebhookRequest(url: url, method: webhook.method, parameters: parameters, timeout: webhook.timeout))
        switch result {
        case .failed(let reason):
            logger.notice("webhook failed; fallback", metadata: ["url": "\(url)", "reason": "\(reason)"])
            run.variables["\(webhook.prefix).error"] = reason
            return .node(webhook.onFailure.value, reason: "webhook-failure")
        case .answered(let object):
            var next: String?
            for (field, value) in object {
                switch value {
                case .string(let s):
                    if field == "next" { next = s } else { run.variables["\(webhook.prefix).\(field)"] = s }
                case .int(let i): run.variables["\(webhook.prefix).\(field)"] = String(i)
                case .double(let d): run.variables["\(webhook.prefix).\(field)"] = String(d)
                case .bool(let b): run.variables["\(webhook.prefix).\(field)"] = b ? "true" : "false"
                case .null: run.variables["\(webhook.prefix).\(field)"] = ""
                case .array, .object: continue
                }
            }
            if let next {
                guard plan.nodes[next] != nil else {
                    logger.notice("webhook named an unknown node; fallback", metadata: ["url": "\(url)", "next": "\(next)"])
                    run.variables["\(webhook.prefix).error"] = "unknown node \(next)"
                    return .node(webhook.onFailure.value, reason: "webhook-failure")
                }
                return .node(next, reason: "webhook")
            }
            if let n = webhook.next { return .node(n.value, reason: "webhook") }
            return .nextStep
        }
    }
}
