import XCTest
@testable import Dialplan

final class TemplateTests: XCTestCase {
    private let variables = [
        "caller": "13800138000",
        "repeat.day": "2",
        "ticket-api": "http://127.0.0.1:9000",
        "ticket_no": "A1",
        "loop": "${caller}",
    ]

    private func expand(_ text: String) -> String {
        Template.expand(text, { variables[$0] })
    }

    func testReplacesVariables() {
        XCTAssertEqual(expand("${ticket-api}/tickets/${ticket_no}"), "http://127.0.0.1:9000/tickets/A1")
        XCTAssertEqual(expand("来电 ${caller}，今天第 ${repeat.day} 次"), "来电 13800138000，今天第 2 次")
        XCTAssertEqual(expand("${caller}${caller}"), "1380013800013800138000")
    }

    func testUnsetVariableIsEmpty() {
        XCTAssertEqual(expand("[${nobody}]"), "[]")
    }

    func testDoubleDollarIsADollar() {
        XCTAssertEqual(expand("$$"), "$")
        XCTAssertEqual(expand("cost: 5$$"), "cost: 5$")
        XCTAssertEqual(expand("$${caller}"), "${caller}")
        XCTAssertEqual(expand("$$${caller}"), "$13800138000")
        XCTAssertEqual(expand("$$$"), "$$")
    }

    func testAnythingElseIsLiteral() {
        XCTAssertEqual(expand("$"), "$")
        XCTAssertEqual(expand("a $ b"), "a $ b")
        XCTAssertEqual(expand("$caller"), "$caller")
        XCTAssertEqual(expand("${}"), "${}")
        XCTAssertEqual(expand("${caller"), "${caller")
        XCTAssertEqual(expand("${bad name}"), "${bad name}")
        XCTAssertEqual(expand("${名字}"), "${名字}")
        XCTAssertEqual(expand("^1380013\\d{4}$"), "^1380013\\d{4}$")
        XCTAssertEqual(expand("${{caller}}"), "${{caller}}")
        XCTAssertEqual(expand("${caller}}"), "13800138000}")
    }

    func testValuesAreNotExpandedAgain() {
        XCTAssertEqual(expand("${loop}"), "${caller}")
    }

    func testTextWithoutTemplatesIsUnchanged() {
        for text in ["", "plain", "音乐 🎵 e\u{301}", "{caller}", "}{"] {
            XCTAssertEqual(expand(text), text)
        }
    }

    func testVariableNames() {
        XCTAssertTrue(Template.isVariableName("repeat.day"))
        XCTAssertTrue(Template.isVariableName("ticket-api_2"))
        XCTAssertFalse(Template.isVariableName(""))
        XCTAssertFalse(Template.isVariableName("a b"))
        XCTAssertFalse(Template.isVariableName("名字"))
    }
}
