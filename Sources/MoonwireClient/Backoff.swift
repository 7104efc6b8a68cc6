/// Reconnect delays: exponential, capped, with jitter (what `MoonwireClient` waits between attempts).
public enum Backoff {
    /// The delay before attempt `attempt` (1, 2, …): the ceiling `min × 2^(attempt-1)` (at most `max`),
    /// then a random point in its upper half, so clients cut off together do not return together.
    public static func delay(attempt: Int, min minimum: Duration, max maximum: Duration, random: Double = Double.random(in: 0...1)) -> Duration {
        let doublings = Swift.min(Swift.max(attempt - 1, 0), 30)
        var ceiling = minimum * (1 << doublings)
        if ceiling > maximum || ceiling < .zero { ceiling = maximum }
        return ceiling / 2 + (ceiling / 2) * random
    }
}
