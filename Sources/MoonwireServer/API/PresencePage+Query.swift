import Hummingbird
import MoonwireCore

extension PresencePage {
    /// The page a presence request asks for: `?after=USER_ID&limit=N`.
    init(query request: Request) throws(HubError) {
        self.init(after: request.query("after").flatMap { $0.isEmpty ? nil : $0 })
        if let text = request.query("limit") {
            guard let limit = Int(text), limit >= 1 else {
                throw HubError(.invalidField, "'limit' must be a positive integer, got '\(text.prefix(32))'")
            }
            self.limit = limit
        }
    }
}
