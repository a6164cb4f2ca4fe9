/* Fan-out ceiling: one process driving libcurl's multi interface with INFLIGHT transfers,
 * keep-alive, POSTing the same ~300-byte JSON body to URL for SECONDS, then printing
 * POSTs/s. What gatewayd's delivery engine is compared with (Benchmarks/fanout.sh).
 * Build: cc -O2 -o curl_multi_reference curl_multi_reference.c -lcurl
 * Usage: curl_multi_reference URL [INFLIGHT=64] [SECONDS=10] */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t discard(char *data, size_t size, size_t count, void *context) {
    (void)data; (void)context;
    return size * count;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s URL [INFLIGHT] [SECONDS]\n", argv[0]); return 2; }
    const char *url = argv[1];
    int inflight = argc > 2 ? atoi(argv[2]) : 64;
    double duration = argc > 3 ? atof(argv[3]) : 10;
    char body[400];
    char pad[181];
    memset(pad, 'a', 180); pad[180] = 0;
    int length = snprintf(body, sizeof body,
        "{\"type\":\"order.created\",\"source\":\"bench\",\"data\":{\"order_id\":\"ord_0123456789\",\"amount\":1234,\"note\":\"%s\"}}", pad);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)inflight);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    for (int i = 0; i < inflight; i++) {
        CURL *easy = curl_easy_init();
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)length);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
        curl_multi_add_handle(multi, easy);
    }
    long completed = 0, failed = 0;
    double start = seconds_now(), end = start + duration;
    int running = 1;
    while (running || seconds_now() < end) {
        curl_multi_perform(multi, &running);
        CURLMsg *message;
        int left;
        while ((message = curl_multi_info_read(multi, &left))) {
            if (message->msg != CURLMSG_DONE) continue;
            CURL *easy = message->easy_handle;
            long status = 0;
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
            if (message->data.result == CURLE_OK && status >= 200 && status < 300) completed++; else failed++;
            curl_multi_remove_handle(multi, easy);
            if (seconds_now() < end) { curl_multi_add_handle(multi, easy); running = 1; }
            else curl_easy_cleanup(easy);
        }
        if (seconds_now() >= end && !running) break;
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    double elapsed = seconds_now() - start;
    printf("%.0f POSTs/s (%ld ok, %ld failed, %.1f s, %d in flight)\n", completed / elapsed, completed, failed, elapsed, inflight);
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return 0;
}
