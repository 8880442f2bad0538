// The container/codec choices for call recordings and their libsndfile codes.

import CSndFile

/// The container and codec of a call recording. Every recording is stereo 16-bit audio:
/// the citizen on the left channel, the other party (prompts, agent, robot) on the right.
public enum RecordingFormat: String, Sendable, Codable, CaseIterable {
    /// RIFF WAVE, 16-bit linear PCM.
    case wav
    /// Ogg container with Opus audio (RFC 7845), encoded by libsndfile.
    case oggOpus = "ogg-opus"

    /// File name extension without the dot. RFC 7845 section 9 recommends ".opus" for Ogg Opus.
    public var fileExtension: String {
        switch self {
        case .wav: return "wav"
        case .oggOpus: return "opus"
        }
    }

    /// The libsndfile `SF_FORMAT_*` major|minor code for writing this format.
    var sndfileFormat: Int32 {
        switch self {
        case .wav: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        case .oggOpus: return Int32(SF_FORMAT_OGG | SF_FORMAT_OPUS)
        }
    }

    /// The format a file name extension stands for (used by the crash repair when a sidecar
    /// cannot be read).
    init?(fileExtension: String) {
        switch fileExtension.lowercased() {
        case "wav": self = .wav
        case "opus", "ogg": self = .oggOpus
        default: return nil
        }
    }
}
