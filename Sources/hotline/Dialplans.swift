import ArgumentParser
import AsyncHTTPClient
import Calls
import Dialplan
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HotlineCore
import Logging
import Media
import NIOCore
import NIOFoundationCompat
import ServiceLifecycle

extension HotlineConfiguration {
    /// What the dialplans may name, from this configuration (`baseDirectory`: the config's folder).
    func dialplanSource(baseDirectory: String) -> DialplanSource {
        let resolve = { (p: String) in p.hasPrefix("/") ? p : baseDirectory + "/" + p }
        return DialplanSource(
            directory: resolve(dialplans.directory), promptDirectory: resolve(prompts.directory),
            queues: Set(queues.map(\.name)), trunks: Set(trunks.map(\.name)), required: Set(lines.map(\.dialplanName)))
    }
}

/// `hotline dialplan check FILE...`: the daemon's own checks, without starting it.
struct DialplanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dialplan", abstract: "Check dialplan files.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check dialplans: prints file:line:column: error: ... for each problem; exits 1 on errors.")

        @Option(help: "Configuration file naming the queues, trunks and prompt folder (default hotline.yaml if present).")
        var config: String?
        @Option(help: "Prompt folder (overrides prompts.directory).")
        var prompts: String?
        @Argument(help: "Dialplan files (YAML). Default: every dialplan of the configuration's folder.")
        var files: [String] = []

        func run() async throws {
            var configuration = HotlineConfiguration()
            var base = FileManager.default.currentDirectoryPath
            let configPath = config ?? (FileManager.default.fileExists(atPath: "hotline.yaml") ? "hotline.yaml" : nil)
            if let configPath {
                do { configuration = try HotlineConfiguration.load(path: configPath) } catch {
                    throw ValidationError("\(error)")
                }
                base = URL(fileURLWithPath: configPath).deletingLastPathComponent().path
            }
            var source = configuration.dialplanSource(baseDirectory: base)
            if let prompts { source.promptDirectory = prompts }
            let library: PromptLibrary
            do { library = try PromptLibrary.load(directory: source.promptDirectory) } catch {
                print("\(source.promptDirectory): error: \(error)")
                throw ExitCode(1)
            }
            var diagnostics: [Diagnostic] = []
            let paths: [String]
            if files.isEmpty {
                paths = ((try? FileManager.default.contentsOfDirectory(atPath: source.directory)) ?? [])
                    .filter { $0.hasSuffix(".yaml") && $0 != DialplanSource.calendarFile }.sorted().map { source.directory + "/" + $0 }
            } else {
                paths = files
            }
            let context = PromptValidationContext(prompts: library, queues: source.queues, trunks: source.trunks)
            for path in paths {
                if (path as NSString).lastPathComponent == DialplanSource.calendarFile {
                    do { _ = try HolidayCalendar.load(path: path) } catch { diagnostics += error.diagnostics }
                    continue
                }
                let (plan, found) = DialplanLoader.load(path: path)
                diagnostics += found
                if let plan { diagnostics += DialplanValidator.validate(plan, context: context) }
            }
            for d in diagnostics { print(d) }
            let errors = diagnostics.filter { $0.severity == .error }.count
            let warnings = diagnostics.count - errors
            FileHandle.standardError.write(Data("\(paths.count) file(s): \(errors) error(s), \(warnings) warning(s)\n".utf8))
            if errors > 0 { throw ExitCode(1) }
        }
    }
}

/// Reloads the dialplans on SIGHUP and when a file under the dialplan or prompt folders
/// changes (polled: size, modification time and name of every file).
struct DialplanWatcher: Service {
    let registry: DialplanRegistry
    let folders: [String]
    let interval: Duration?
    let logger: Logger

    func run() async throws {
        signal(SIGHUP, SIG_IGN)
        let hangups = AsyncStream<Void> { continuation in
            let box = SignalSource(DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global()))
            box.source.setEventHandler { continuation.yield() }
            box.source.resume()
            continuation.onTermination = { _ in box.source.cancel() }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups {
                    logger.notice("SIGHUP: reloading dialplans")
                    registry.reload()
                }
            }
            if let interval {
                group.addTask {
                    var last = fingerprint()
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        let now = fingerprint()
                        if now != last {
                            last = now
                            // Let an editor finish writing (several files, rename dances).
                            try? await Task.sleep(for: .milliseconds(300))
                            last = fingerprint()
                            logger.notice("dialplan or prompt files changed: reloading")
                            registry.reload()
                        }
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func fingerprint() -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        for folder in folders {
            guard let walker = fm.enumerator(atPath: folder) else { continue }
            while let relative = walker.nextObject() as? String {
                let path = folder + "/" + relative
                guard let attributes = try? fm.attributesOfItem(atPath: path) else { continue }
                let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
                let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                out[path] = "\(size)/\(modified)"
            }
        }
        return out
    }
}

/// The SIGHUP source, handed to the stream's termination handler (cancel is thread-safe).
private final class SignalSource: @unchecked Sendable {
    let source: any DispatchSourceSignal
    init(_ source: any DispatchSourceSignal) { self.source = source }
}

/// The dialplan's `webhook` verb over AsyncHTTPClient.
struct HTTPWebhookClient: WebhookClient {
    let client: HTTPClient
    let logger: Logger

    func send(_ request: WebhookRequest) async -> WebhookResult {
        guard var components = URLComponents(string: request.url), components.scheme == "http" || components.scheme == "https" else {
            return .failed(reason: "bad url")
        }
        var http: HTTPClientRequest
        switch request.method {
        case .get:
            if !request.parameters.isEmpty {
                components.queryItems = (components.queryItems ?? []) + request.parameters.sorted { $0.key < $1.key }
                    .map { URLQueryItem(name: $0.key, value: $0.value) }
            }
            guard let url = components.url?.absoluteString else { return .failed(reason: "bad url") }
            http = HTTPClientRequest(url: url)
            http.method = .GET
        case .post:
            http = HTTPClientRequest(url: request.url)
            http.method = .POST
            http.headers.add(name: "Content-Type", value: "application/json")
            let body = (try? JSONSerialization.data(withJSONObject: request.parameters, options: [.sortedKeys])) ?? Data("{}".utf8)
            http.body = .bytes(ByteBuffer(data: body))
        }
        http.headers.add(name: "Accept", value: "application/json")
        do {
            let response = try await client.execute(http, timeout: .milliseconds(request.timeout.milliseconds))
            guard (200..<300).contains(response.status.code) else { return .failed(reason: "status \(response.status.code)") }
            let body = try await response.body.collect(upTo: 256 * 1024)
            guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(buffer: body)) else {
                return .failed(reason: "not a JSON object")
            }
            return .answered(object)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return .failed(reason: "timeout")
        } catch {
            return .failed(reason: "connection: \(error)")
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
