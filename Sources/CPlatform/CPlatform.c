#define _GNU_SOURCE
#include "CPlatform.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <pthread.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

const uint32_t CSYSTEM_EPOLLIN = EPOLLIN;
const uint32_t CSYSTEM_EPOLLOUT = EPOLLOUT;
const uint32_t CSYSTEM_EPOLLERR = EPOLLERR;
const uint32_t CSYSTEM_EPOLLHUP = EPOLLHUP;
const uint32_t CSYSTEM_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t CSYSTEM_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;
const int CSYSTEM_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
const int CSYSTEM_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
const int CSYSTEM_EPOLL_CTL_DEL = EPOLL_CTL_DEL;

int csystem_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int csystem_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int csystem_epoll_wait(int epfd, csystem_epoll_event *out, int maxevents, int timeout_ms) {
    struct epoll_event raw[maxevents > 256 ? 256 : maxevents];
    int n = epoll_wait(epfd, raw, maxevents > 256 ? 256 : maxevents, timeout_ms);
    for (int i = 0; i < n; i++) {
        out[i].events = raw[i].events;
        out[i].data = raw[i].data.u64;
    }
    return n;
}

int csystem_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int csystem_eventfd_signal(int fd) {
    uint64_t one = 1;
    return (int)write(fd, &one, sizeof one);
}

int csystem_eventfd_drain(int fd) {
    uint64_t value;
    return (int)read(fd, &value, sizeof value);
}

int csystem_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void csystem_name_current_thread(const char *name) {
    char cut[16];
    strncpy(cut, name, sizeof cut - 1);
    cut[sizeof cut - 1] = 0;
    pthread_setname_np(pthread_self(), cut);
}

int csystem_lower_current_thread_priority(int nice) {
    // On Linux a nice value belongs to a thread, named by its kernel id.
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

int csystem_start_writeback(int fd, int64_t offset, int64_t length) {
    return sync_file_range(fd, (off64_t)offset, (off64_t)length, SYNC_FILE_RANGE_WRITE);
}
