// Linux calls that Swift 6.3's Glibc module does not expose (epoll, eventfd, accept4,
// pthread_setname_np, sync_file_range).
// `struct epoll_event` is packed on x86_64, so callers use the unpacked `csystem_epoll_event`
// and these wrappers translate; Swift never sees the packed layout.
#ifndef CSYSTEM_H
#define CSYSTEM_H

#include <stdint.h>
#include <sys/socket.h>

typedef struct {
    uint32_t events;
    uint64_t data;
} csystem_epoll_event;

extern const uint32_t CSYSTEM_EPOLLIN;
extern const uint32_t CSYSTEM_EPOLLOUT;
extern const uint32_t CSYSTEM_EPOLLERR;
extern const uint32_t CSYSTEM_EPOLLHUP;
extern const uint32_t CSYSTEM_EPOLLRDHUP;
extern const uint32_t CSYSTEM_EPOLLEXCLUSIVE;
extern const int CSYSTEM_EPOLL_CTL_ADD;
extern const int CSYSTEM_EPOLL_CTL_MOD;
extern const int CSYSTEM_EPOLL_CTL_DEL;

int csystem_epoll_create(void);
int csystem_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
int csystem_epoll_wait(int epfd, csystem_epoll_event *events, int maxevents, int timeout_ms);

int csystem_eventfd(void);
int csystem_eventfd_signal(int fd);
int csystem_eventfd_drain(int fd);

int csystem_accept4(int fd, struct sockaddr *addr, socklen_t *len);

#include <stddef.h>

/// CRC-32C (Castagnoli), as LevelDB and ext4 use for record checksums: the SSE4.2 `crc32`
/// instruction where the CPU has it, a table otherwise. `crc` is the running value (start at 0).
uint32_t csystem_crc32c(uint32_t crc, const void *data, size_t length);

/// Starts writing back the dirty pages of `fd` in [offset, offset + length) without waiting
/// for them (sync_file_range with SYNC_FILE_RANGE_WRITE): a later fdatasync then finds them
/// written or on their way. Not a durability guarantee on its own.
int csystem_start_writeback(int fd, int64_t offset, int64_t length);

/// Names the calling thread (at most 15 bytes; longer names are cut) for top -H, ps and perf.
void csystem_name_current_thread(const char *name);

/// Raises the calling thread's nice value (lowers its priority) to `nice`.
int csystem_lower_current_thread_priority(int nice);

#endif
