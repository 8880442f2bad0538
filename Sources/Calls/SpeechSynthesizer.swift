import Crypto
import Foundation
import Logging
import Media
import NIOConcurrencyHelpers

/// Text-to-speech for the dialplan's `say` verb.
public protocol SpeechSynthesizer: Sendable {
    /// 8 kHz audio of `text` spoken in `language` (`voice`: `normal` or the slower `elderly`).
    func synthesize(_ text: String, language: String, voice: String) async throws(SpeechError) -> EncodedPrompt
}

public struct SpeechError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// espeak-ng through sox, as `scripts/make-prompts.sh` makes the prompts: each text is spoken
/// once and kept as a WAV in the cache folder (named by a hash of voice, speed and text), and
/// the most recent ones in memory.
public final class EspeakSynthesizer: SpeechSynthesizer {
    private let cacheDirectory: String
    private let logger: Logger
    private let memory = NIOLockedValueBox<[String: EncodedPrompt]>([:])
    private static let memoryLimit = 256
    private static let timeout: Duration = .seconds(10)

    public init(cacheDirectory: String, logger: Logger) {
        self.cacheDirectory = cacheDirectory
        self.logger = logger
    }

    static func espeakVoice(_ language: String) -> String {
        switch language {
        // Plain "cmn" reads Latin letters as English; this voice reads Han characters.
        case "zh-CN": return "cmn-latn-pinyin"
        case "en-US": return "en-us"
        default: return language.lowercased()
        }
    }

    public func synthesize(_ text: String, language: String, voice: String) async throws(SpeechError) -> EncodedPrompt {
        let espeakVoice = Self.espeakVoice(language)
        let speed = voice == "elderly" ? 120 : 160
        let key = SHA256.hash(data: Data("v1\n\(espeakVoice)\n\(speed)\n\(text)".utf8)).map { String(format: "%02x", $0) }.joined()
        if let cached = memory.withLockedValue({ $0[key] }) { return cached }
        let path = cacheDirectory + "/" + key + ".wav"
        if !FileManager.default.fileExists(atPath: path) {
            try await render(text, voice: espeakVoice, speed: speed, to: path)
        }
        let wav: WAVFile
        do { wav = try WAVFile.read(contentsOf: path) } catch {
            throw SpeechError(description: "cannot read \(path): \(error)")
        }
        let prompt = PromptLibrary.encode(name: "say", language: language, samples: wav.samples)
        memory.withLockedValue { m in
            if m.count >= Self.memoryLimit { m.removeAll(keepingCapacity: true) }
            m[key] = prompt
        }
        return prompt
    }

    private func render(_ text: String, voice: String, speed: Int, to path: String) async throws(SpeechError) {
        do {
            try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        } catch {
            throw SpeechError(description: "cannot create \(cacheDirectory): \(error)")
        }
        let raw = path + ".raw-\(UUID().uuidString).wav"
        let out = path + ".tmp-\(UUID().uuidString).wav"
        defer {
            try? FileManager.default.removeItem(atPath: raw)
            try? FileManager.default.removeItem(atPath: out)
        }
        try await run("espeak-ng", ["-v", voice, "-s", String(speed), "-w", raw, "--", text])
        try await run("sox", ["-D", "-v", "0.8", raw, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", out])
        if rename(out, path) != 0 { throw SpeechError(description: "cannot move the speech into \(path)") }
        logger.debug("speech rendered", metadata: ["path": "\(path)"])
    }

    /// Runs a tool from PATH, killing it after the timeout.
    private func run(_ tool: String, _ arguments: [String]) async throws(SpeechError) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let status: Int32? = await withCheckedContinuation { (c: CheckedContinuation<Int32?, Never>) in
            let once = NIOLockedValueBox(false)
            let resume: @Sendable (Int32?) -> Void = { value in
                let first = once.withLockedValue { done -> Bool in
                    defer { done = true }
                    return !done
                }
                if first { c.resume(returning: value) }
            }
            process.terminationHandler = { p in resume(p.terminationStatus) }
            do { try process.run() } catch {
                resume(nil)
                return
            }
            Task {
                try? await Task.sleep(for: Self.timeout)
                if process.isRunning { process.terminate() }
                resume(nil)
            }
        }
        guard status == 0 else {
            throw SpeechError(description: "\(tool) failed (\(status.map { "exit \($0)" } ?? "did not run or timed out"))")
        }
    }
}
