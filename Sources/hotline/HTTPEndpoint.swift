import Calls
import Foundation
import Hummingbird
import NIOCore
import Prometheus
import ServiceLifecycle

/// The HTTP frame: health for load balancers and orchestration, Prometheus metrics.
/// The full API (calls, CDRs, events) arrives with the events issue.
enum HTTPEndpoint {
    static func make(
        address: String, port: Int, registry: PrometheusCollectorRegistry, calls: CallManager, group: EventLoopGroup
    ) -> some Service {
        let router = Router()
        router.get("/v1/health") { _, _ -> Response in
            let body = "{\"status\":\"ok\",\"activeCalls\":\(calls.activeCallCount)}\n"
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.get("/metrics") { _, _ -> Response in
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(address, port: port), serverName: "hotline"),
            eventLoopGroupProvider: .shared(group))
    }
}
