// Prefixed forwards to the POSIX calls service-monitor makes itself. A failing call returns
// -errno, as libsystemd's do: errno is read here, right after the call, before Swift code runs.
#ifndef C_POSIX_H
#define C_POSIX_H

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline ssize_t CPosix_write(int fd, const void *bytes, size_t count) {
    ssize_t result = write(fd, bytes, count);
    return result < 0 ? -errno : result;
}

static inline ssize_t CPosix_read(int fd, void *bytes, size_t count) {
    ssize_t result = read(fd, bytes, count);
    return result < 0 ? -errno : result;
}

static inline ssize_t CPosix_pread(int fd, void *bytes, size_t count, off_t offset) {
    ssize_t result = pread(fd, bytes, count, offset);
    return result < 0 ? -errno : result;
}

static inline int CPosix_open_reading(const char *path) {
    int result = open(path, O_RDONLY | O_CLOEXEC);
    return result < 0 ? -errno : result;
}

static inline int CPosix_open_appending(const char *path) {
    int result = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return result < 0 ? -errno : result;
}

static inline int CPosix_close(int fd) {
    int result = close(fd);
    return result < 0 ? -errno : result;
}

static inline const char *CPosix_strerror(int code) {
    return strerror(code);
}

static inline int CPosix_clock_gettime_realtime(struct timespec *now) {
    int result = clock_gettime(CLOCK_REALTIME, now);
    return result < 0 ? -errno : result;
}

static inline struct tm *CPosix_gmtime_r(const time_t *seconds, struct tm *parts) {
    return gmtime_r(seconds, parts);
}

static inline struct tm *CPosix_localtime_r(const time_t *seconds, struct tm *parts) {
    return localtime_r(seconds, parts);
}

// 1 when `path` is a regular file this process may execute, as execvp would run it; else 0.
static inline int CPosix_is_executable_file(const char *path) {
    struct stat status;
    return stat(path, &status) == 0 && S_ISREG(status.st_mode) && access(path, X_OK) == 0;
}

// The signal the kernel sends this process when the thread that started it ends (prctl is
// variadic, which Swift cannot call).
static inline int CPosix_set_parent_death_signal(int signal) {
    int result = prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
    return result < 0 ? -errno : result;
}

// Every signal back to its default action and none blocked, as a freshly spawned process has
// them: the Swift runtime of a process about to exec another program may have changed both
// (libdispatch's main thread blocks nearly every signal), and exec keeps the mask and ignored
// signals.
static inline int CPosix_reset_signals(void) {
    for (int signal_number = 1; signal_number < NSIG; signal_number++) {
        if (signal_number != SIGKILL && signal_number != SIGSTOP) signal(signal_number, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    int result = sigprocmask(SIG_SETMASK, &none, NULL);
    return result < 0 ? -errno : result;
}

static inline unsigned long CPosix_getauxval(unsigned long type) {
    return getauxval(type);
}

/// What dl_iterate_phdr tells of each loaded object: its load bias, name ("" for the program,
/// "linux-vdso.so.1" for the vDSO, a path for a library) and program headers. Return nonzero to stop.
typedef int (*CPosix_loaded_object_visitor)(uintptr_t base, const char *name, const Elf64_Phdr *headers,
                                            uint16_t count, void *context);

/// dl_iterate_phdr, forwarded from CPosix.c: it is a GNU extension, and defining _GNU_SOURCE in
/// this header would make its glibc types differ from the ones Swift's Glibc module sees.
int CPosix_dl_iterate_phdr(CPosix_loaded_object_visitor visitor, void *context);

static inline int CPosix_madvise_dontneed(void *start, size_t length) {
    return madvise(start, length, MADV_DONTNEED) < 0 ? -errno : 0;
}

static inline int CPosix_mprotect_read_only(void *start, size_t length) {
    return mprotect(start, length, PROT_READ) < 0 ? -errno : 0;
}

/// Runs `action` as the calling thread ends, after `pthread_exit` has unwound its stack (a
/// thread-specific value's destructor); `-errno` when no key is left.
static inline int CPosix_at_thread_exit(void (*action)(void *)) {
    pthread_key_t key;
    int failure = pthread_key_create(&key, action);
    if (failure != 0) return -failure;
    return -pthread_setspecific(key, (const void *)&CPosix_at_thread_exit);
}

#endif
