// fdatasync latency of the ways a journal can write its next record, on the disk holding
// DIR: appending to a growing file (the file's size and blocks change, so the sync also
// commits filesystem metadata) against overwriting blocks written with zeros beforehand
// (data only), each with fdatasync or with O_DSYNC writes. 3,000 writes of 3,300 bytes (a
// group-commit batch of ~11 events) per mode; prints p50/p90/p99 in microseconds.
// Build and run: Benchmarks/fsync_probe.sh [DIR=.]
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    const char *names[] = {"append + fdatasync", "append, O_DSYNC", "prepared zeros + fdatasync", "prepared zeros, O_DSYNC"};
    enum { writes = 3000, size = 3300 };
    static double latency[writes];
    char path[4096], record[size], zeros[1 << 16];
    memset(record, 'x', sizeof record);
    memset(zeros, 0, sizeof zeros);
    snprintf(path, sizeof path, "%s/fsync-probe.%d", dir, (int)getpid());
    for (int mode = 0; mode < 4; mode++) {
        int dsync = mode == 1 || mode == 3, prepared = mode >= 2;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | (dsync ? O_DSYNC : 0), 0644);
        if (fd < 0) { perror("open"); return 1; }
        if (prepared) {
            for (int i = 0; i < (writes * size) / (int)sizeof zeros + 1; i++)
                if (write(fd, zeros, sizeof zeros) < 0) { perror("write"); return 1; }
            fdatasync(fd);
        }
        for (int i = 0; i < writes; i++) {
            double start = now_us();
            if (pwrite(fd, record, size, (off_t)i * size) != size) { perror("pwrite"); return 1; }
            if (!dsync) fdatasync(fd);
            latency[i] = now_us() - start;
        }
        close(fd);
        unlink(path);
        qsort(latency, writes, sizeof(double), compare);
        printf("%-28s p50 %4.0f us  p90 %4.0f us  p99 %4.0f us\n", names[mode],
               latency[writes / 2], latency[writes * 9 / 10], latency[writes * 99 / 100]);
    }
    return 0;
}
