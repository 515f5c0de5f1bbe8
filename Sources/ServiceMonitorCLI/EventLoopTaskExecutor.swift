import NIOCore

/// A task executor that runs every job on one NIO event loop.
///
/// A one-shot command runs on the event loop its etcd or DynamoDB connection is served by
/// (`withTaskExecutorPreference`): each answer then resumes the command on the thread that
/// read it, instead of waking a thread of Swift's global pool, which handed the next request
/// back to the event loop.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
