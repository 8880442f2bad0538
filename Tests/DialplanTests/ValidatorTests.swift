import Foundation
import XCTest

@testable import Dialplan

/// The validator's warnings, and the loops it must not report.
final class ValidatorTests: XCTestCase {
    func descriptions(_ yaml: String, context: FakeContext = FakeContext()) -> [String] {
        check(yaml: yaml, context: context).1.map(\.description)
    }

    func testUnreachableNodesAndNodesThatFallOffTheEnd() {
        XCTAssertEqual(
            descriptions(
                """
                language: zh-CN
                languages: [zh-CN, en-US]
                start: start
                nodes:
                  start:
                    - answer
                    - play: welcome
                  orphan:
                    - hangup
                  empty: []
                  after-enqueue:
                    - enqueue: general
                """),
            [
                "test.yaml:7:7: warning: node 'start' ends without goto or hangup; the call hangs up here",
                "test.yaml:8:3: warning: node 'orphan' is never reached",
                "test.yaml:10:3: warning: node 'empty' ends without goto or hangup; the call hangs up here",
                "test.yaml:10:3: warning: node 'empty' is never reached",
                "test.yaml:11:3: warning: node 'after-enqueue' is never reached",
                "test.yaml:12:7: warning: node 'after-enqueue' ends without goto or hangup; the call hangs up here",
            ])
    }

    func testStepsThatAlwaysLeaveTheNode() {
        // A menu with on-failure, an enqueue with next, a dial with on-failure, a when with
        // otherwise, a webhook with next, a record with next: nothing after them runs, and the
        // node does not fall off its end.
        XCTAssertEqual(
            descriptions(
                """
                language: zh-CN
                languages: [zh-CN, en-US]
                start: start
                nodes:
                  start:
                    - menu: { prompt: main-menu, options: { "1": queue, "2": call, "3": hook, "4": rec, "5": branch }, on-failure: queue }
                  queue:
                    - enqueue: { queue: general, next: start }
                  call:
                    - dial: { to: "8001", on-failure: start }
                  hook:
                    - webhook: { url: "http://x/", next: start, on-failure: start }
                  rec:
                    - record: { next: start }
                  branch:
                    - when:
                        - if: { day: holiday }
                          goto: start
                        - otherwise: start
                    - play: welcome
                """),
            ["test.yaml:20:7: warning: this step never runs: the step before always leaves node 'branch'"])
    }

    func testLoopsThroughCallerInputAreFine() {
        // start → main (free), main's menu → start: the cycle waits for a key.
        // gather's own next and on-failure, and steps after a record, are not free either.
        XCTAssertEqual(
            descriptions(
                """
                language: zh-CN
                languages: [zh-CN, en-US]
                start: start
                nodes:
                  start:
                    - play: welcome
                    - goto: main
                  main:
                    - menu: { prompt: main-menu, options: { "1": start, "2": ticket, "3": message }, on-failure: main }
                  ticket:
                    - gather: { variable: ticket, next: ticket, on-failure: ticket }
                  message:
                    - record: { prompt: leave-message }
                    - goto: message
                """),
            [])
    }

    func testALoopBeforeTheInputOfANodeIsAnError() {
        // `a` goes to `b` before its menu: b → a → b needs no key.
        XCTAssertEqual(
            descriptions(
                """
                language: zh-CN
                languages: [zh-CN, en-US]
                start: a
                nodes:
                  a:
                    - when:
                        - if: { weekday: sat-sun }
                          goto: b
                    - menu: { prompt: main-menu, options: { "1": a }, on-failure: a }
                  b:
                    - set: { voice: elderly }
                    - goto: a
                """),
            ["test.yaml:5:3: error: node 'a' can loop without caller input: a → b → a"])
    }

    func testAMissingGoodbyePromptIsAWarning() {
        var context = FakeContext()
        context.languages = ["zh-CN"]
        XCTAssertEqual(
            descriptions(
                """
                language: zh-CN
                languages: [zh-CN, en-US]
                start: start
                limits: { goodbye: goodbye }
                nodes:
                  start:
                    - hangup
                """, context: context),
            [
                "test.yaml:1:1: warning: limits goodbye prompt 'goodbye' not found for en-US (Prompts/en-US/goodbye.wav); "
                    + "a call that hits a limit hangs up without it"
            ])
    }

    func testValidatorChecksPlansNotMadeByTheLoader() {
        let at = SourceLocation(file: "built.yaml", line: 2, column: 1)
        let plan = Dialplan(
            name: "built", file: "built.yaml", language: "fr-FR", languages: ["zh-CN"], start: Located("start", at: at),
            nodes: [Node(name: "start", location: at, steps: [Step(.hangup(Hangup()), at: at)])])
        XCTAssertEqual(
            DialplanValidator.validate(plan, context: FakeContext()).map(\.description),
            ["built.yaml:1:1: error: 'languages' must include the dialplan's language 'fr-FR'"])
    }
}
