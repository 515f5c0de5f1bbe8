// Prefixed forwards to the few libsystemd calls service-monitor needs. Swift cannot call the
// variadic sd_journal_send, so journald entries go through the iovec form.
//
// libsystemd is opened at the first call (CSystemd.c), not by the dynamic loader at start-up:
// most one-shot commands never call it, and mapping and relocating it and the six libraries it
// links cost a `hosts` ~7% of its wall time. The signatures are sd-daemon.h's and sd-journal.h's.
#ifndef C_SYSTEMD_H
#define C_SYSTEMD_H

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
// Without this, sd-journal.h turns sd_journal_sendv into a macro that adds the C shim's own
// CODE_FILE/CODE_LINE/CODE_FUNC; the Swift caller supplies the real location.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

/// The library's file name, as the loader looks it up.
#define CSYSTEMD_SONAME "libsystemd.so.0"

/// libsystemd's functions that the forwards below call.
typedef struct {
    __typeof__(sd_notify) *sd_notify;
    __typeof__(sd_pid_notify) *sd_pid_notify;
    __typeof__(sd_watchdog_enabled) *sd_watchdog_enabled;
    __typeof__(sd_journal_sendv) *sd_journal_sendv;
    __typeof__(sd_booted) *sd_booted;
} CSystemd_functions;

/// The functions, from libsystemd opened at the first call (once, whichever thread calls first);
/// NULL when it cannot be opened or lacks one, with the reason in CSystemd_load_error().
const CSystemd_functions *CSystemd_load(void);

/// Why CSystemd_load() returned NULL (dlerror's text); NULL when it did not.
const char *CSystemd_load_error(void);

// Each returns -ELIBACC when libsystemd cannot be loaded.

static inline int CSystemd_sd_notify(int unset_environment, const char *state) {
    const CSystemd_functions *library = CSystemd_load();
    return library ? library->sd_notify(unset_environment, state) : -ELIBACC;
}

static inline int CSystemd_sd_pid_notify(pid_t pid, int unset_environment, const char *state) {
    const CSystemd_functions *library = CSystemd_load();
    return library ? library->sd_pid_notify(pid, unset_environment, state) : -ELIBACC;
}

static inline int CSystemd_sd_watchdog_enabled(int unset_environment, uint64_t *usec) {
    const CSystemd_functions *library = CSystemd_load();
    return library ? library->sd_watchdog_enabled(unset_environment, usec) : -ELIBACC;
}

static inline int CSystemd_sd_journal_sendv(const struct iovec *iov, int n) {
    const CSystemd_functions *library = CSystemd_load();
    return library ? library->sd_journal_sendv(iov, n) : -ELIBACC;
}

static inline int CSystemd_sd_booted(void) {
    const CSystemd_functions *library = CSystemd_load();
    return library ? library->sd_booted() : -ELIBACC;
}

#endif
