import NIOCore
import NIOPosix
@testable import ServiceMonitorCLI
import Testing
import TestSupport

/// One-shot commands run with an `EventLoopTaskExecutor` preference: the task, its child
/// tasks and whatever resumes them after a suspension run on that one event loop.
@Suite("the event-loop task executor", .tags(.fast))
struct EventLoopTaskExecutorTests {
    @Test func runsTheTaskItsChildrenAndEveryResumptionOnTheEventLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let eventLoop = group.next()
        let threads = await withTaskExecutorPreference(EventLoopTaskExecutor(eventLoop)) {
            let atStart = eventLoop.inEventLoop
            async let child = eventLoop.inEventLoop
            // Resumed by the event loop's own timer, as an answer gRPC reads resumes a command.
            try? await eventLoop.scheduleTask(in: .milliseconds(1)) {}.futureResult.get()
            let afterSuspension = eventLoop.inEventLoop
            let inGroupChild = await withTaskGroup(of: Bool.self) { children in
                children.addTask { eventLoop.inEventLoop }
                return await children.next() ?? false
            }
            return [atStart, await child, afterSuspension, inGroupChild]
        }
        #expect(threads == [true, true, true, true])
        #expect(!eventLoop.inEventLoop)
        try await group.shutdownGracefully()
    }
}
