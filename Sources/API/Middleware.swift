import Hummingbird

/// Turns every error into the API's JSON error body, including the router's own 404/405.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response()
        } catch let error as any HTTPResponseError {
            let status = error.status
            let code: String
            let message: String
            switch status {
            case .notFound:
                code = "not-found"
                message = "no such resource: \(request.method) \(request.uri.path)"
            case .methodNotAllowed:
                code = "method-not-allowed"
                message = "\(request.method) is not allowed on \(request.uri.path)"
            default:
                code = status.code < 500 ? "bad-request" : "internal"
                message = (error as? HTTPError)?.body ?? status.reasonPhrase
            }
            var response = APIError(status, code, message).response()
            if let httpError = error as? HTTPError {
                for field in httpError.headers where field.name != .contentType && field.name != .contentLength {
                    response.headers.append(field)
                }
            }
            return response
        } catch {
            context.logger.error("API request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return APIError(.internalServerError, "internal", "internal error").response()
        }
    }
}

/// `Authorization: Bearer <token>` on every route but the public ones (RFC 6750). The token is
/// compared in constant time.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]
    let publicPaths: Set<String>

    init(token: String, publicPaths: Set<String>) {
        self.token = Array(token.utf8)
        self.publicPaths = publicPaths
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if publicPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization] else {
            return Self.unauthorized("a bearer token is required (Authorization: Bearer <token>)", challenge: "Bearer realm=\"hotline\"")
        }
        guard let presented = Self.bearerToken(header), constantTimeEqual(Array(presented.utf8), token) else {
            return Self.unauthorized(
                "the bearer token is not valid",
                challenge: "Bearer realm=\"hotline\", error=\"invalid_token\"")
        }
        return try await next(request, context)
    }

    static func bearerToken(_ header: String) -> Substring? {
        let trimmed = header.drop { $0 == " " }
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        let value = trimmed.dropFirst(7).drop { $0 == " " }
        var end = value.endIndex
        while end > value.startIndex, value[value.index(before: end)] == " " { end = value.index(before: end) }
        return value[value.startIndex..<end]
    }

    static func unauthorized(_ message: String, challenge: String) -> Response {
        var response = APIError(.unauthorized, "unauthorized", message).response()
        response.headers[.wwwAuthenticate] = challenge
        return response
    }
}

/// Equal bytes, in time that depends only on the lengths (not on where they first differ).
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference = UInt8(a.count == b.count ? 0 : 1)
    let count = max(a.count, b.count)
    for i in 0..<count {
        let x = i < a.count ? a[i] : 0
        let y = i < b.count ? b[i] : 0
        difference |= x ^ y
    }
    return difference == 0
}
