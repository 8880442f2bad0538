// Estimated listening quality (MOS) of a call leg from its RTP/RTCP statistics, with the
// ITU-T G.107 E-model reduced to the network terms, as VoIP monitors commonly do:
//
//   R = R0 - Is - Id - Ie,eff + A, where the G.107 default parameters give R0 - Is ≈ 93.2
//   (the value VoIP monitors use) and A, the advantage factor, is 0 for wired telephony.
//
// - Id, delay impairment, from the one-way mouth-to-ear delay d in ms, using the simplified
//   fit of Cole and Rosenbluth ("Voice over IP performance monitoring", ACM SIGCOMM CCR
//   31(2), 2001) to the G.107 curve for echo-free connections:
//     Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3), H the unit step.
//   d is not measured end to end; it is estimated as half the RTCP round trip plus a
//   jitter-buffer allowance of 2 × jitter + 10 ms (a buffer sized for about twice the
//   jitter, plus packetisation and playout).
// - Ie,eff, effective equipment impairment under packet loss (G.107, since its 2002 edition):
//     Ie,eff = Ie + (95 - Ie) · Ppl / (Ppl / BurstR + Bpl)
//   Ppl is the packet loss in percent, BurstR the burst ratio (1 for random loss), and Ie
//   and Bpl are codec constants from ITU-T G.113 Appendix I (see `CodecImpairment`).
// - MOS (listening quality, narrowband scale) from R (G.107 Annex B):
//     MOS = 1 + 0.035 R + 7·10⁻⁶ R (R - 60)(100 - R), for 0 < R < 100;
//   1 for R ≤ 0 and 4.5 for R ≥ 100. The polynomial dips just below 1 for R < 6.5; the
//   result is clamped to 1...4.5 so that it never rises as conditions get worse.
//
// The result is an estimate for dashboards and call records, not a measurement: echo,
// noise, levels and the actual jitter-buffer behaviour are not known here.

/// Codec constants of the E-model (ITU-T G.107 / G.113 Appendix I), narrowband scale.
public struct CodecImpairment: Sendable, Equatable {
    /// Ie, the equipment impairment factor of the codec without loss (0: none).
    public var equipmentImpairment: Double
    /// Bpl, the packet-loss robustness factor (larger: loss hurts less).
    public var packetLossRobustness: Double

    public init(equipmentImpairment: Double, packetLossRobustness: Double) {
        self.equipmentImpairment = equipmentImpairment
        self.packetLossRobustness = packetLossRobustness
    }

    /// G.711 without packet-loss concealment: Ie 0, Bpl 4.3 (G.113 Appendix I).
    public static let g711 = CodecImpairment(equipmentImpairment: 0, packetLossRobustness: 4.3)
    /// G.711 with the G.711 Appendix I concealment: Ie 0, Bpl 25.1 (G.113 Appendix I).
    public static let g711WithPLC = CodecImpairment(equipmentImpairment: 0, packetLossRobustness: 25.1)
    /// G.722 at 64 kbit/s rated on the narrowband scale: Ie 0 (it is at least as good as
    /// G.711 there; its wideband advantage is outside the narrowband E-model), Bpl 25 as for
    /// a codec with concealment. An approximation: G.113's wideband values use the 129-point
    /// scale of G.107.1.
    public static let g722 = CodecImpairment(equipmentImpairment: 0, packetLossRobustness: 25)
    /// Opus at typical VoIP speech rates, rated on the narrowband scale: Ie 6, Bpl 20.
    /// ITU-T publishes no values for Opus. Reported narrowband-equivalent Ie values range
    /// from about 11 at 12 kbit/s to 0 at 24 kbit/s and above; 6 is the middle of that range
    /// (an engineering assumption). Bpl 20 reflects Opus's built-in concealment. Pass your
    /// own values when the bit rate is known.
    public static let opus = CodecImpairment(equipmentImpairment: 6, packetLossRobustness: 20)
}

/// An E-model estimate of listening quality (see the file comment for formulas and sources).
public struct QualityEstimate: Sendable, Equatable {
    /// R0 - Is with the G.107 default parameters.
    public static let basicRating = 93.2

    /// The estimated one-way (mouth-to-ear) delay in ms.
    public let oneWayDelayMs: Double
    /// Id, the delay impairment.
    public let delayImpairment: Double
    /// Ie,eff, the codec and packet-loss impairment.
    public let effectiveEquipmentImpairment: Double
    /// The transmission rating R, 0...100.
    public let rFactor: Double
    /// The estimated mean opinion score, 1.0...4.5.
    public let mos: Double

    /// - Parameters:
    ///   - packetLossPercent: packets lost in percent (0...100; clamped, NaN read as 0).
    ///   - jitterMs: interarrival jitter in ms (negative or NaN read as 0).
    ///   - roundTripMs: RTCP round-trip time in ms (negative or NaN read as 0, i.e. unknown).
    ///   - codec: the codec's Ie and Bpl.
    ///   - burstRatio: BurstR, 1 for random loss, larger for bursty loss (values below 1 read as 1).
    public init(packetLossPercent: Double, jitterMs: Double, roundTripMs: Double, codec: CodecImpairment,
                burstRatio: Double = 1) {
        let loss = min(Self.nonNegative(packetLossPercent), 100)
        let burst = max(burstRatio.isNaN ? 1 : burstRatio, 1)
        oneWayDelayMs = Self.oneWayDelay(roundTripMs: roundTripMs, jitterMs: jitterMs)
        delayImpairment = Self.delayImpairment(oneWayDelayMs: oneWayDelayMs)

        let ie = codec.equipmentImpairment
        let denominator = loss / burst + codec.packetLossRobustness
        effectiveEquipmentImpairment = denominator > 0 ? ie + (95 - ie) * loss / denominator : ie

        rFactor = min(max(Self.basicRating - delayImpairment - effectiveEquipmentImpairment, 0), 100)
        mos = Self.mos(rFactor: rFactor)
    }

    /// The estimated one-way delay: RTT / 2 + 2 × jitter + 10 ms (jitter buffer and playout).
    public static func oneWayDelay(roundTripMs: Double, jitterMs: Double) -> Double {
        nonNegative(roundTripMs) / 2 + 2 * nonNegative(jitterMs) + 10
    }

    /// Id for a one-way delay in ms (Cole and Rosenbluth's fit of G.107).
    public static func delayImpairment(oneWayDelayMs d: Double) -> Double {
        0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0)
    }

    /// MOS from R (G.107 Annex B), clamped to 1...4.5.
    public static func mos(rFactor r: Double) -> Double {
        guard r > 0 else { return 1 }
        guard r < 100 else { return 4.5 }
        let mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)
        return min(max(mos, 1), 4.5)
    }

    private static func nonNegative(_ value: Double) -> Double {
        value.isNaN ? 0 : max(value, 0)
    }
}
