import NIOConcurrencyHelpers

/// Hands out even RTP ports (RTP on even, RTCP on the next odd one, RFC 3550 §11) from the
/// configured range. A port whose bind fails is skipped by the caller and returned later.
public final class RTPPortAllocator: Sendable {
    public let range: ClosedRange<Int>
    private struct State {
        var free: [Int]          // used as a queue, so a released port rests before reuse
        var head = 0
        var inUse: Set<Int> = []
    }
    private let state: NIOLockedValueBox<State>

    public init(range: ClosedRange<Int>) {
        self.range = range
        let first = range.lowerBound % 2 == 0 ? range.lowerBound : range.lowerBound + 1
        let ports = Array(stride(from: first, through: range.upperBound - 1, by: 2))
        self.state = NIOLockedValueBox(State(free: ports))
    }

    public var capacity: Int { state.withLockedValue { $0.free.count - $0.head + $0.inUse.count } }
    public var inUseCount: Int { state.withLockedValue { $0.inUse.count } }

    public func allocate() -> Int? {
        state.withLockedValue { s in
            guard s.head < s.free.count else { return nil }
            let port = s.free[s.head]
            s.head += 1
            if s.head > 4096 && s.head * 2 > s.free.count {   // compact the consumed prefix
                s.free.removeFirst(s.head)
                s.head = 0
            }
            s.inUse.insert(port)
            return port
        }
    }

    public func release(_ port: Int) {
        state.withLockedValue { s in
            guard s.inUse.remove(port) != nil else { return }
            s.free.append(port)
        }
    }
}
