import Foundation
import XCTest

@testable import Dialplan

/// The dialplans shipped in Dialplans/ load and validate without a single diagnostic.
final class SampleDialplanTests: XCTestCase {
    func testSamplesHaveNoDiagnostics() throws {
        for name in ["12345", "callback-survey"] {
            let path = Paths.repository.appendingPathComponent("Dialplans/\(name).yaml").path
            let (plan, diagnostics) = check(path: path, displayPath: "Dialplans/\(name).yaml")
            XCTAssertEqual(diagnostics.map(\.description), [], name)
            let loaded = try XCTUnwrap(plan, name)
            XCTAssertEqual(loaded.name, name)
            XCTAssertEqual(loaded.file, "Dialplans/\(name).yaml")
            XCTAssertEqual(loaded.languages, ["zh-CN", "en-US"])
            XCTAssertEqual(loaded.timeZone.identifier, "Asia/Shanghai")
        }
    }

    func testThe12345Line() throws {
        let path = Paths.repository.appendingPathComponent("Dialplans/12345.yaml").path
        let plan = try XCTUnwrap(DialplanLoader.load(path: path).0)
        XCTAssertEqual(plan.file, path)
        XCTAssertEqual(plan.start.value, "start")
        XCTAssertEqual(plan.limits, Limits(steps: 300, duration: .seconds(900), goodbyePrompt: "goodbye"))
        XCTAssertEqual(plan.variables, ["ticket-api": "http://127.0.0.1:9000"])
        // The list file beside the dialplan: comments and blank lines left out.
        XCTAssertEqual(plan.callerLists["elderly"]?.numbers, ["02512345678"])
        XCTAssertEqual(plan.nodeOrder.first, "start")
        XCTAssertEqual(plan.nodeOrder.count, 24)
        XCTAssertEqual(plan.nodes.count, 24)
        let main = try XCTUnwrap(plan.nodes["main"])
        guard case .menu(let menu) = main.steps.first?.verb else { return XCTFail("main starts with a menu") }
        XCTAssertEqual(menu.options.map { String($0.key.value) }, ["1", "2", "3", "4", "9", "0", "*"])
        XCTAssertEqual(menu.onFailure?.value, "goodbye")
    }
}
