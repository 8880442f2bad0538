/// Prompts decoded once at start and cached per codec, so playing one costs no transcoding
/// (ARCHITECTURE.md, "Prompts are decoded once and cached per codec").
public struct EncodedPrompt: Sendable {
    public let name: String
    public let language: String
    /// The whole prompt in each law, padded with silence to a whole number of 20 ms frames.
    public let pcmu: [UInt8]
    public let pcma: [UInt8]
    /// The same as 8 kHz linear samples, for legs with other codecs and for recordings.
    public let linear: [Int16]

    public var frameCount: Int { pcmu.count / MediaFormat.samplesPerFrame }
    public var duration: Duration { .milliseconds(frameCount * MediaFormat.frameMilliseconds) }

    public func payload(for law: G711Law) -> [UInt8] {
        switch law {
        case .ulaw: return pcmu
        case .alaw: return pcma
        }
    }
}

/// Narrowband G.711 framing used everywhere in this issue: 8 kHz, 20 ms frames.
public enum MediaFormat {
    public static let sampleRate = 8_000
    public static let frameMilliseconds = 20
    public static let samplesPerFrame = 160

    public static func silence(_ law: G711Law) -> UInt8 {
        switch law {
        case .ulaw: return 0xFF
        case .alaw: return 0xD5
        }
    }
}

public enum PromptLibraryError: Error, Sendable, CustomStringConvertible {
    case missingDirectory(String)
    case unreadable(path: String, reason: String)
    case unsupportedFormat(path: String, reason: String)
    case missingPrompt(name: String, language: String)

    public var description: String {
        switch self {
        case .missingDirectory(let p): return "prompt directory \(p) does not exist"
        case .unreadable(let p, let r): return "\(p): \(r)"
        case .unsupportedFormat(let p, let r): return "\(p): \(r)"
        case .missingPrompt(let n, let l): return "prompt '\(n)' is missing for language \(l)"
        }
    }
}

/// All prompts of all languages, by language then name. Immutable once loaded.
public struct PromptLibrary: Sendable {
    private let prompts: [String: [String: EncodedPrompt]]

    public init(_ prompts: [EncodedPrompt]) {
        var byLanguage: [String: [String: EncodedPrompt]] = [:]
        for p in prompts { byLanguage[p.language, default: [:]][p.name] = p }
        self.prompts = byLanguage
    }

    /// Folders of spoken prompts (`Prompts/music` holds music, not a language).
    public var languages: [String] { prompts.keys.filter { $0 != Self.musicFolder && !$0.contains("/") }.sorted() }

    static let musicFolder = "music"

    /// Music on hold: `Prompts/music/hold.wav`, played in a loop to a held party.
    public var holdMusic: EncodedPrompt? { prompts[Self.musicFolder]?["hold"] }

    public func names(language: String) -> [String] {
        (prompts[language] ?? [:]).keys.sorted()
    }

    public func prompt(_ name: String, language: String) -> EncodedPrompt? {
        prompts[language]?[name]
    }

    /// The prompt in a voice variant (`Prompts/<language>/<voice>/<name>.wav`, e.g. the slower,
    /// louder `elderly` set), else the normal one.
    public func prompt(_ name: String, language: String, voice: String) -> EncodedPrompt? {
        if voice != "normal", let variant = prompts["\(language)/\(voice)"]?[name] { return variant }
        return prompts[language]?[name]
    }

    /// Checks that every language has every named prompt.
    public func require(_ names: [String], languages: [String]) throws(PromptLibraryError) {
        for language in languages {
            for name in names where prompt(name, language: language) == nil {
                throw .missingPrompt(name: name, language: language)
            }
        }
    }

    /// Encodes 8 kHz mono 16-bit samples into both laws, padded to whole frames.
    public static func encode(name: String, language: String, samples: [Int16]) -> EncodedPrompt {
        var padded = samples
        let remainder = padded.count % MediaFormat.samplesPerFrame
        if remainder != 0 { padded += [Int16](repeating: 0, count: MediaFormat.samplesPerFrame - remainder) }
        return EncodedPrompt(
            name: name, language: language,
            pcmu: G711.encode(padded, law: .ulaw),
            pcma: G711.encode(padded, law: .alaw),
            linear: padded)
    }

    /// Loads `directory/<language>/<name>.wav` for every language folder present.
    public static func load(directory: String) throws(PromptLibraryError) -> PromptLibrary {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw .missingDirectory(directory)
        }
        let languages: [String]
        do { languages = try fm.contentsOfDirectory(atPath: directory).sorted() } catch {
            throw .unreadable(path: directory, reason: "\(error)")
        }
        var loaded: [EncodedPrompt] = []
        // Language folders, and in each the voice variants (`zh-CN/elderly`).
        var folders: [String] = []
        for language in languages {
            let folder = directory + "/" + language
            guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else { continue }
            folders.append(language)
            guard language != musicFolder, let subfolders = try? fm.contentsOfDirectory(atPath: folder) else { continue }
            for voice in subfolders.sorted() where fm.fileExists(atPath: folder + "/" + voice, isDirectory: &isDir) && isDir.boolValue {
                folders.append(language + "/" + voice)
            }
        }
        for language in folders {
            let folder = directory + "/" + language
            let files: [String]
            do { files = try fm.contentsOfDirectory(atPath: folder).sorted() } catch {
                throw .unreadable(path: folder, reason: "\(error)")
            }
            for file in files where file.hasSuffix(".wav") {
                let path = folder + "/" + file
                let wav: WAVFile
                do { wav = try WAVFile.read(contentsOf: path) } catch {
                    throw .unreadable(path: path, reason: "\(error)")
                }
                guard wav.sampleRate == MediaFormat.sampleRate, wav.channels == 1 else {
                    throw .unsupportedFormat(
                        path: path,
                        reason: "expected 8000 Hz mono, found \(wav.sampleRate) Hz with \(wav.channels) channel(s)")
                }
                loaded.append(encode(name: String(file.dropLast(4)), language: language, samples: wav.samples))
            }
        }
        return PromptLibrary(loaded)
    }
}

import Foundation
