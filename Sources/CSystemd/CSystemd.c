// Opens libsystemd at the first call of a forward in CSystemd.h, and says so in the binary.
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include "CSystemd.h"

// The dependency the dynamic loader no longer sees, recorded as the ELF note of systemd's
// "dlopen() Metadata for ELF Files" (owner "FDO", type 0x407c0c0a, a JSON array):
// packaging/build-deb.sh and build-image.sh read it, as distributions' packaging tools do.
#define CSYSTEMD_DLOPEN_METADATA \
    "[{\"feature\":\"systemd\",\"description\":\"sd_notify, the watchdog and the journal\"," \
    "\"priority\":\"required\",\"soname\":[\"" CSYSTEMD_SONAME "\"]}]"

__attribute__((used, section(".note.dlopen"), aligned(4)))
static const struct {
    uint32_t name_size, description_size, type;
    char name[4];
    _Alignas(4) char description[sizeof(CSYSTEMD_DLOPEN_METADATA)];
} CSystemd_dlopen_note = {
    .name_size = sizeof("FDO"),
    .description_size = sizeof(CSYSTEMD_DLOPEN_METADATA),
    .type = 0x407c0c0a,
    .name = "FDO",
    .description = CSYSTEMD_DLOPEN_METADATA,
};

static CSystemd_functions functions;
static const CSystemd_functions *loaded;
static char load_error[256];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static int CSystemd_resolve(void *library, const char *name, void **function) {
    *function = dlsym(library, name);
    if (*function) return 1;
    snprintf(load_error, sizeof load_error, "%s", dlerror());
    return 0;
}

static void CSystemd_open(void) {
    // Kept open for the life of the process; RTLD_LOCAL: nothing else resolves against it.
    void *library = dlopen(CSYSTEMD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(load_error, sizeof load_error, "%s", dlerror());
        return;
    }
    if (CSystemd_resolve(library, "sd_notify", (void **)&functions.sd_notify)
        && CSystemd_resolve(library, "sd_pid_notify", (void **)&functions.sd_pid_notify)
        && CSystemd_resolve(library, "sd_watchdog_enabled", (void **)&functions.sd_watchdog_enabled)
        && CSystemd_resolve(library, "sd_journal_sendv", (void **)&functions.sd_journal_sendv)
        && CSystemd_resolve(library, "sd_booted", (void **)&functions.sd_booted)) {
        loaded = &functions;
    }
}

const CSystemd_functions *CSystemd_load(void) {
    pthread_once(&load_once, CSystemd_open);
    return loaded;
}

const char *CSystemd_load_error(void) {
    pthread_once(&load_once, CSystemd_open);
    return loaded ? NULL : load_error;
}
