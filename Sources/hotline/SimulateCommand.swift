import ACD
import ArgumentParser

/// `hotline simulate`: a day of a mid-size city's 12345 traffic through the real ACD on a
/// virtual clock (no SIP, no media, no config needed): Poisson arrivals with morning and
/// afternoon peaks, agents in shifts, impatient callers, the voice robot taking the overflow.
/// `--bench`: how many routing decisions a second the ACD makes with a long queue.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a day of calls through the ACD, or measure its decisions per second (--bench).")

    @Option(help: "Random seed: the same seed gives the same report.")
    var seed: UInt64 = 12345
    @Option(help: "Agents, spread over five shifts (with --bench: agents answering).")
    var agents: Int = 60
    @Option(help: "Calls a day.")
    var callsPerDay: Int = 8_000
    @Flag(help: "Measure routing decisions per second instead of simulating a day.")
    var bench = false
    @Option(help: "With --bench: callers kept waiting in the queue.")
    var waiting: Int = 2_000
    @Option(help: "With --bench: seconds to measure.")
    var seconds: Double = 3

    func validate() throws {
        guard agents > 0 else { throw ValidationError("--agents must be at least 1") }
        guard callsPerDay >= 0, waiting >= 0 else { throw ValidationError("--calls-per-day and --waiting cannot be negative") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
    }

    func run() throws {
        if bench {
            print(ACDBenchmark.decisions(waiting: waiting, agents: agents, seconds: seconds))
            return
        }
        let scenario = CitySimulation.sampleCityDay(callsPerDay: Double(callsPerDay), agents: agents, seed: seed)
        print("Simulated day: \(callsPerDay) calls expected, \(agents) agents, seed \(seed)")
        print(CitySimulation(scenario).run())
    }
}
