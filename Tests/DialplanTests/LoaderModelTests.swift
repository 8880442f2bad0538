import Foundation
import XCTest

@testable import Dialplan

/// What the loader builds from a small plan: every verb and condition with its arguments,
/// defaults and locations.
final class LoaderModelTests: XCTestCase {
    static let plan = """
        language: zh-CN
        languages: [zh-CN, en-US]
        start: start
        timezone: Asia/Shanghai
        limits: { steps: 50, duration: 90.5, goodbye: goodbye }
        variables: { api: "http://127.0.0.1:9000", port: 8080 }
        lists:
          vip: { numbers: ["13800000000", 13900000000] }
        nodes:
          start:
            - answer
            - play: [welcome, emergency-notice]
            - play: { prompts: holiday-notice, interruptible: false }
            - say: "${ticket.status}"
            - when:
                - if: { time: ["08:00-12:00", "22:00-24:00"], weekday: [mon-fri, sat-mon], day: [holiday, makeup-workday] }
                  goto: menu
                - if: { date: ["2026-10-01..2026-10-07", 2026-12-25], caller: "1380013\\\\d{4}", called: "12345" }
                  goto: menu
                - if: { caller-in: vip, vars: { repeat.day: ">= 2", language: zh-CN, ticket: "~ [0-9]+", x: "!=" } }
                  goto: menu
                - otherwise: menu
          menu:
            - menu:
                prompt: main-menu
                invalid: invalid
                no-input: [no-input, main-menu]
                timeout: 2.5
                attempts: 2
                variable: choice
                options: { "1": ticket, 2: ticket, "*": menu, "#": bye }
                on-failure: bye
          ticket:
            - gather:
                prompt: enter-ticket
                variable: ticket
                min-digits: 6
                max-digits: 12
                terminator: ""
                first-digit-timeout: 8
                pattern: "[0-9]+"
                next: lookup
            - set: { language: en-US, voice: elderly, greeting: "${caller}" }
            - goto: bye
          lookup:
            - webhook:
                url: "${api}/tickets/${ticket}"
                method: GET
                parameters: { caller: "${caller}", n: 1 }
                as: ticket
                on-failure: bye
            - enqueue: { queue: general, priority: 5, skills: elderly, timeout: 300, next: message }
          message:
            - record: { prompt: leave-message, max-length: 60, silence: 3, terminator: "*", beep: false, variable: message, next: bye }
          bye:
            - transfer: { to: "110", trunk: carrier, mode: blind, timeout: 20, prompt: transferring, on-failure: end }
          end:
            - dial: "8001"
            - robot: { fallback: message }
            - hangup: { prompt: goodbye }
        """

    func load() throws -> Dialplan {
        let (plan, diagnostics) = check(yaml: Self.plan)
        // The robot always leaves its node (for now to its fallback).
        XCTAssertEqual(
            diagnostics.map(\.description),
            [
                "test.yaml:60:7: warning: this step never runs: the step before always leaves node 'end'"
            ])
        return try XCTUnwrap(plan)
    }

    func steps(_ plan: Dialplan, _ node: String) -> [Verb] {
        plan.nodes[node]?.steps.map(\.verb) ?? []
    }

    func testTopLevel() throws {
        let plan = try load()
        XCTAssertEqual(plan.name, "test")
        XCTAssertEqual(plan.file, "test.yaml")
        XCTAssertEqual(plan.language, "zh-CN")
        XCTAssertEqual(plan.start, Located("start", at: SourceLocation(file: "test.yaml", line: 3, column: 8)))
        XCTAssertEqual(plan.timeZone.identifier, "Asia/Shanghai")
        XCTAssertEqual(plan.limits, Limits(steps: 50, duration: .milliseconds(90_500), goodbyePrompt: "goodbye"))
        XCTAssertEqual(plan.variables, ["api": "http://127.0.0.1:9000", "port": "8080"])
        XCTAssertEqual(plan.callerLists["vip"]?.numbers, ["13800000000", "13900000000"])
        XCTAssertEqual(plan.nodeOrder, ["start", "menu", "ticket", "lookup", "message", "bye", "end"])
        XCTAssertEqual(plan.nodes["menu"]?.location, SourceLocation(file: "test.yaml", line: 23, column: 3))
    }

    func testPlayAndSay() throws {
        let start = steps(try load(), "start")
        guard case .answer = start[0] else { return XCTFail("answer") }
        guard case .play(let play) = start[1], case .play(let quiet) = start[2], case .say(let say) = start[3] else {
            return XCTFail("play, play, say")
        }
        XCTAssertEqual(play.prompts.map(\.value), ["welcome", "emergency-notice"])
        XCTAssertEqual(play.prompts[1].location, SourceLocation(file: "test.yaml", line: 12, column: 23))
        XCTAssertTrue(play.interruptible)
        XCTAssertEqual(quiet.prompts.map(\.value), ["holiday-notice"])
        XCTAssertFalse(quiet.interruptible)
        XCTAssertEqual(say.text.value, "${ticket.status}")
    }

    func testConditions() throws {
        guard case .when(let when) = steps(try load(), "start")[4] else { return XCTFail("when") }
        XCTAssertEqual(when.branches.count, 3)
        XCTAssertEqual(when.otherwise?.value, "menu")
        XCTAssertEqual(when.branches[0].location, SourceLocation(file: "test.yaml", line: 16, column: 11))
        let first = when.branches[0].conditions
        XCTAssertEqual(first.count, 3)
        guard case .time(let ranges) = first[0].test, case .weekday(let days) = first[1].test, case .day(let kinds) = first[2].test else {
            return XCTFail("time, weekday, day")
        }
        XCTAssertEqual(ranges, [TimeRange(start: 480, end: 720), TimeRange(start: 1320, end: 1440)])
        XCTAssertEqual(days, [1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(kinds, [.holiday, .makeupWorkday])
        XCTAssertEqual(first[1].location, SourceLocation(file: "test.yaml", line: 16, column: 55))

        let second = when.branches[1].conditions
        guard case .date(let dates) = second[0].test, case .caller(let caller) = second[1].test, case .called(let called) = second[2].test
        else { return XCTFail("date, caller, called") }
        XCTAssertEqual(
            dates,
            [
                DateRange(first: CalendarDay(year: 2026, month: 10, day: 1), last: CalendarDay(year: 2026, month: 10, day: 7)),
                DateRange(first: CalendarDay(year: 2026, month: 12, day: 25), last: CalendarDay(year: 2026, month: 12, day: 25)),
            ])
        XCTAssertEqual(caller.value, "1380013\\d{4}")
        XCTAssertEqual(called.value, "12345")

        let third = when.branches[2].conditions
        XCTAssertEqual(third.count, 5)
        guard case .callerIn(let list) = third[0].test else { return XCTFail("caller-in") }
        XCTAssertEqual(list.value, "vip")
        let comparisons: [(String, Comparison, String)] = third.dropFirst().compactMap {
            guard case .variable(let name, let comparison, let value) = $0.test else { return nil }
            return (name.value, comparison, value)
        }
        XCTAssertEqual(comparisons.map(\.0), ["repeat.day", "language", "ticket", "x"])
        XCTAssertEqual(comparisons.map(\.1), [.greaterOrEqual, .equal, .matches, .notEqual])
        XCTAssertEqual(comparisons.map(\.2), ["2", "zh-CN", "[0-9]+", ""])
    }

    func testMenu() throws {
        guard case .menu(let menu) = steps(try load(), "menu")[0] else { return XCTFail("menu") }
        XCTAssertEqual(menu.prompts.prompt.map(\.value), ["main-menu"])
        XCTAssertEqual(menu.prompts.invalid.map(\.value), ["invalid"])
        XCTAssertEqual(menu.prompts.noInput.map(\.value), ["no-input", "main-menu"])
        XCTAssertEqual(menu.timeout, .milliseconds(2500))
        XCTAssertEqual(menu.attempts, 2)
        XCTAssertEqual(menu.variable?.value, "choice")
        XCTAssertEqual(menu.options.map(\.key.value), ["1", "2", "*", "#"])
        XCTAssertEqual(menu.options.map(\.node.value), ["ticket", "ticket", "menu", "bye"])
        XCTAssertEqual(menu.options[0].key.location, SourceLocation(file: "test.yaml", line: 31, column: 20))
        XCTAssertEqual(menu.onFailure?.value, "bye")
    }

    func testGatherAndSet() throws {
        let ticket = steps(try load(), "ticket")
        guard case .gather(let gather) = ticket[0], case .set(let assignments) = ticket[1] else { return XCTFail("gather, set") }
        XCTAssertEqual(gather.variable.value, "ticket")
        XCTAssertEqual(gather.minDigits, 6)
        XCTAssertEqual(gather.maxDigits, 12)
        XCTAssertNil(gather.terminator)
        XCTAssertEqual(gather.firstDigitTimeout, .seconds(8))
        XCTAssertEqual(gather.interDigitTimeout, .seconds(3))
        XCTAssertEqual(gather.attempts, 3)
        XCTAssertEqual(gather.pattern?.value, "[0-9]+")
        XCTAssertEqual(gather.next?.value, "lookup")
        XCTAssertNil(gather.onFailure)
        XCTAssertEqual(assignments.map(\.variable.value), ["language", "voice", "greeting"])
        XCTAssertEqual(assignments.map(\.value.value), ["en-US", "elderly", "${caller}"])
    }

    func testWebhookEnqueueRecord() throws {
        let plan = try load()
        guard case .webhook(let webhook) = steps(plan, "lookup")[0], case .enqueue(let enqueue) = steps(plan, "lookup")[1],
            case .record(let record) = steps(plan, "message")[0]
        else { return XCTFail("webhook, enqueue, record") }
        XCTAssertEqual(webhook.url.value, "${api}/tickets/${ticket}")
        XCTAssertEqual(webhook.method, .get)
        XCTAssertEqual(webhook.parameters.map(\.name), ["caller", "n"])
        XCTAssertEqual(webhook.parameters.map(\.value.value), ["${caller}", "1"])
        XCTAssertEqual(webhook.timeout, .seconds(3))
        XCTAssertEqual(webhook.prefix, "ticket")
        XCTAssertNil(webhook.next)
        XCTAssertEqual(webhook.onFailure.value, "bye")

        XCTAssertEqual(enqueue.queue.value, "general")
        XCTAssertEqual(enqueue.priority, 5)
        XCTAssertEqual(enqueue.skills.map(\.value), ["elderly"])
        XCTAssertEqual(enqueue.timeout, .seconds(300))
        XCTAssertEqual(enqueue.next?.value, "message")

        XCTAssertEqual(record.prompt.map(\.value), ["leave-message"])
        XCTAssertEqual(record.maxLength, .seconds(60))
        XCTAssertEqual(record.silence, .seconds(3))
        XCTAssertEqual(record.terminator, "*")
        XCTAssertFalse(record.beep)
        XCTAssertEqual(record.variable?.value, "message")
        XCTAssertEqual(record.next?.value, "bye")
    }

    func testDialTransferRobotHangup() throws {
        let plan = try load()
        guard case .dial(let transfer) = steps(plan, "bye")[0] else { return XCTFail("transfer") }
        XCTAssertTrue(transfer.isTransfer)
        XCTAssertEqual(Verb.dial(transfer).name, "transfer")
        XCTAssertEqual(transfer.target.value, "110")
        XCTAssertEqual(transfer.trunk?.value, "carrier")
        XCTAssertEqual(transfer.mode, .blind)
        XCTAssertEqual(transfer.timeout, .seconds(20))
        XCTAssertEqual(transfer.prompt.map(\.value), ["transferring"])
        XCTAssertEqual(transfer.onFailure?.value, "end")

        let end = steps(plan, "end")
        guard case .dial(let dial) = end[0], case .robot(let robot) = end[1], case .hangup(let hangup) = end[2] else {
            return XCTFail("dial, robot, hangup")
        }
        XCTAssertFalse(dial.isTransfer)
        XCTAssertEqual(dial.target.value, "8001")
        XCTAssertNil(dial.trunk)
        XCTAssertEqual(dial.mode, .bridge)
        XCTAssertEqual(dial.timeout, .seconds(30))
        XCTAssertNil(robot.scenario)
        XCTAssertEqual(robot.fallback.value, "message")
        XCTAssertEqual(hangup.prompt.map(\.value), ["goodbye"])
    }

    func testDefaults() throws {
        let (plan, diagnostics) = check(
            yaml: """
                language: en-US
                start: s
                nodes:
                  s:
                    - record
                    - menu: { options: { "1": s } }
                    - hangup
                """)
        XCTAssertEqual(diagnostics, [])
        let loaded = try XCTUnwrap(plan)
        XCTAssertEqual(loaded.languages, ["en-US"])
        XCTAssertEqual(loaded.timeZone, TimeZone.current)
        XCTAssertEqual(loaded.limits, Limits())
        guard case .record(let record) = steps(loaded, "s")[0], case .menu(let menu) = steps(loaded, "s")[1] else {
            return XCTFail("record, menu")
        }
        XCTAssertEqual(record.maxLength, .seconds(120))
        XCTAssertEqual(record.terminator, "#")
        XCTAssertTrue(record.beep)
        XCTAssertEqual(menu.timeout, .seconds(5))
        XCTAssertEqual(menu.attempts, 3)
        XCTAssertNil(menu.onFailure)
    }

    func testLoadNamesThePlanAfterItsFile() throws {
        let path = Paths.repository.appendingPathComponent("Dialplans/callback-survey.yaml").path
        let (plan, diagnostics) = DialplanLoader.load(path: path, displayPath: "survey.yaml")
        XCTAssertEqual(diagnostics, [])
        XCTAssertEqual(plan?.name, "callback-survey")
        XCTAssertEqual(plan?.file, "survey.yaml")

        let (missing, errors) = DialplanLoader.load(path: "/nonexistent/x.yaml")
        XCTAssertNil(missing)
        XCTAssertEqual(errors.map(\.description), ["/nonexistent/x.yaml:1:1: error: cannot read the dialplan file"])
    }

    func testDiagnosticText() {
        let at = SourceLocation(file: "Dialplans/a.yaml", line: 3, column: 7)
        XCTAssertEqual(Diagnostic.error("unknown node 'mian'", at: at).description, "Dialplans/a.yaml:3:7: error: unknown node 'mian'")
        XCTAssertEqual(
            Diagnostic.warning("node 'x' is never reached", at: at).description, "Dialplans/a.yaml:3:7: warning: node 'x' is never reached")
        let errors = DialplanErrors([.error("a", at: at), .error("b", at: at)])
        XCTAssertEqual(errors.description, "Dialplans/a.yaml:3:7: error: a\nDialplans/a.yaml:3:7: error: b")
    }
}
