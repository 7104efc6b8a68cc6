#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MoonwireCore
import Synchronization

/// One Lua state of a plugin version (a `PluginVM`) and the lock that serialises every touch of it. A caller waits for the VM for a
/// bounded time only, and the gate knows since when the call holding it has been running, so that a call
/// stuck past its deadline can be told from a busy plugin.
final class PluginVMGate: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var vm: PluginVM
    /// When the call holding the VM began (monotonic ns); 0 while the VM is free.
    private let busySince = Atomic<UInt64>(0)

    init(_ vm: PluginVM) {
        self.vm = vm
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` on the VM; waits at most `wait` for it (`nil`: as long as it takes). `nil` when the VM
    /// stayed busy that long.
    func withVM<R>(waitingAtMost wait: Duration?, _ body: (inout PluginVM) -> R) -> R? {
        guard acquire(waitingAtMost: wait) else { return nil }
        defer { release() }
        return body(&vm)
    }

    /// Takes the VM (waiting at most `wait`, `nil`: as long as it takes); false when it stayed busy.
    /// Each successful `acquire` is paired with a `release`; `withAcquiredVM` reaches the VM in between.
    func acquire(waitingAtMost wait: Duration?) -> Bool {
        guard lock(waitingAtMost: wait) else { return false }
        busySince.store(MonotonicClock.nanoseconds(), ordering: .releasing)
        return true
    }

    /// Gives back the VM taken by `acquire`.
    func release() {
        busySince.store(0, ordering: .releasing)
        pthread_mutex_unlock(mutex)
    }

    /// Runs `body` on the VM, which the caller holds through `acquire`.
    func withAcquiredVM<R>(_ body: (inout PluginVM) -> R) -> R {
        body(&vm)
    }

    /// Nanoseconds the call holding the VM has run, or `nil` while the VM is free.
    func busyFor(now: UInt64 = MonotonicClock.nanoseconds()) -> UInt64? {
        let since = busySince.load(ordering: .acquiring)
        guard since != 0 else { return nil }
        return now > since ? now - since : 0
    }

    private func lock(waitingAtMost wait: Duration?) -> Bool {
        if pthread_mutex_trylock(mutex) == 0 { return true }
        guard let wait else { return pthread_mutex_lock(mutex) == 0 }
        guard wait > .zero else { return false }
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int(clamping: wait.nanoseconds % 1_000_000_000)
        deadline.tv_sec += Int(clamping: wait.nanoseconds / 1_000_000_000) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        return pthread_mutex_timedlock(mutex, &deadline) == 0
    }
}
