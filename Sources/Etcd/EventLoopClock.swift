import NIOCore
import NIOPosix

/// A clock whose sleeps are timers of an NIO event loop.
///
/// A sleep on Swift's own clocks is a libdispatch timer: the first one in a process starts
/// libdispatch's timer thread and a worker, two threads a one-shot command otherwise never
/// starts, and with them ~10 % of the wall time of a `hosts` of 50 (gRPC's deadline,
/// `CallOptions.timeout`, is such a sleep). The client times its attempts on this clock
/// instead, on the event loops its connections run on.
struct EventLoopClock: Clock {
    typealias Instant = ContinuousClock.Instant

    let eventLoop: any EventLoop

    /// A loop of the group the transport's connections run on (by default NIO's singleton
    /// group): the one the caller runs on, when it runs on one of them.
    static var connections: EventLoopClock {
        EventLoopClock(eventLoop: MultiThreadedEventLoopGroup.singleton.any())
    }

    var now: Instant { .now }

    var minimumResolution: Duration { ContinuousClock().minimumResolution }

    func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let delay = ContinuousClock.now.duration(to: deadline)
        guard delay > .zero else { return }
        let timer = self.eventLoop.scheduleTask(in: TimeAmount(delay)) {}
        try await withTaskCancellationHandler {
            do {
                try await timer.futureResult.get()
            } catch {
                // The only way the timer fails: cancelled, by the handler below.
                throw CancellationError()
            }
        } onCancel: {
            timer.cancel()
        }
    }
}
