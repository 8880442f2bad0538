@testable import ACD
import XCTest

final class SimulatorTests: XCTestCase {
    private func small(seed: UInt64 = 7) -> CitySimulation.Scenario {
        CitySimulation.sampleCityDay(callsPerDay: 600, agents: 6, seed: seed)
    }

    func testTheSampleDayIsAMidSizeCity() {
        let day = CitySimulation.sampleCityDay()
        XCTAssertEqual(day.agents.count, 60)
        XCTAssertEqual(day.callsPerDay, 8_000, accuracy: 1e-6)
        XCTAssertEqual(day.arrivalsPerHour.count, 24)
        let peak = day.arrivalsPerHour.indices.max { day.arrivalsPerHour[$0] < day.arrivalsPerHour[$1] }!
        XCTAssertTrue((9...10).contains(peak))
        XCTAssertGreaterThan(day.arrivalsPerHour[15], day.arrivalsPerHour[12])
        XCTAssertEqual(day.queues.first?.overflow, [OverflowRule(.predictedWait(above: .seconds(120)), to: .node("robot"))])
        XCTAssertEqual(day.priorityShare, 0.08)
        XCTAssertEqual(day.priority, 9)
    }

    func testTheSameSeedGivesTheSameReport() {
        let one = CitySimulation(small()).run()
        XCTAssertEqual(one, CitySimulation(small()).run())
        XCTAssertNotEqual(one, CitySimulation(small(seed: 8)).run())
    }

    func testEveryCallerIsAccountedFor() {
        let report = CitySimulation(small()).run()
        XCTAssertGreaterThan(report.offered, 450)
        XCTAssertLessThan(report.offered, 750)
        XCTAssertEqual(report.offered, report.answered + report.robotResolved + report.abandoned + report.timedOut + report.refused
                       + report.stillWaiting)
        XCTAssertEqual(report.stillWaiting, 0)
        XCTAssertEqual(report.hours.map(\.offered).reduce(0, +), report.offered)
        XCTAssertEqual(report.hours.map(\.answered).reduce(0, +), report.answered)
        XCTAssertGreaterThanOrEqual(report.decisions, UInt64(report.answered))
        XCTAssertGreaterThan(report.answered, 0)
        let occupancy = try? XCTUnwrap(report.occupancy)
        XCTAssertTrue(occupancy.map { (0.0...1.0).contains($0) } ?? false)
        XCTAssertTrue(report.description.contains("hour  agents  offered"))
        XCTAssertTrue(report.description.contains("answer rate (agents+robot)"))
    }

    func testUnderstaffedDaysGoToTheRobot() {
        var scenario = CitySimulation.sampleCityDay(callsPerDay: 600, agents: 2, seed: 3)
        scenario.robotResolution = 1
        let report = CitySimulation(scenario).run()
        XCTAssertGreaterThan(report.overflowedCallers, 20)
        XCTAssertEqual(report.robotVisits, report.overflowedCallers, "resolved callers do not come back")
        XCTAssertEqual(report.robotResolved, report.overflowedCallers)
        XCTAssertGreaterThan(try XCTUnwrap(report.answerRate), Double(report.answered) / Double(report.offered))
    }

    func testUnresolvedCallersComeBackFromTheRobotOnce() {
        var scenario = CitySimulation.sampleCityDay(callsPerDay: 600, agents: 2, seed: 3)
        scenario.robotResolution = 0
        let report = CitySimulation(scenario).run()
        XCTAssertEqual(report.robotResolved, 0)
        XCTAssertGreaterThan(report.overflowedCallers, 0)
        // A rule fires once per caller: each comes back at most once from the robot.
        XCTAssertEqual(report.robotVisits, report.overflowedCallers)
    }

    func testMissedCallCallbacksInTheSimulation() {
        var scenario = CitySimulation.sampleCityDay(callsPerDay: 600, agents: 3, seed: 5)
        scenario.queues[0].abandonCallbackAfter = .seconds(30)
        scenario.queues[0].callbackRetryDelay = .seconds(120)
        let report = CitySimulation(scenario).run()
        XCTAssertGreaterThan(report.callbacksScheduled, 0)
        XCTAssertGreaterThan(report.callbacksConnected, 0)
        XCTAssertEqual(report.stillWaiting, 0)
    }

    func testEventQueuePopsInTimeOrderAndFIFOForEqualTimes() {
        var queue = EventQueue<Int>()
        var rng = SplitMix64(seed: 99)
        var expected: [(Int64, Int)] = []
        for i in 0..<500 {
            let time = Int64(rng.next() % 50)
            queue.push(time, i)
            expected.append((time, i))
        }
        expected.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        var popped: [(Int64, Int)] = []
        while let (time, value) = queue.pop() { popped.append((time, value)) }
        XCTAssertEqual(popped.map(\.0), expected.map(\.0))
        XCTAssertEqual(popped.map(\.1), expected.map(\.1))
        XCTAssertNil(queue.pop())
    }

    func testFixedPointFormatting() {
        XCTAssertEqual(fixed(3.14159, 2), "3.14")
        XCTAssertEqual(fixed(0.05, 1), "0.1")
        XCTAssertEqual(fixed(12, 0), "12")
        XCTAssertEqual(fixed(-1.5, 2), "-1.50")
        XCTAssertEqual(fixed(2.999, 2), "3.00")
    }

    func testTheBenchmarkKeepsTheQueueLength() {
        let result = ACDBenchmark.decisions(waiting: 100, agents: 5, seconds: 0.05)
        XCTAssertGreaterThanOrEqual(result.decisions, 63)
        XCTAssertEqual(result.queuedAtEnd, 100)
        XCTAssertEqual(result.join.count, result.offerAnswered.count)
        XCTAssertTrue(result.description.contains("decisions/s"))
    }
}
