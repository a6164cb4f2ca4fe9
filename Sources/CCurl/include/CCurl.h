// Typed wrappers for libcurl's variadic setopt/getinfo calls, which Swift cannot call directly.
#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>

CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_easy_setopt_ptr(CURL *handle, CURLoption option, void *value);
CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ccurl_easy_setopt_write_function(CURL *handle, curl_write_callback callback);
CURLcode ccurl_easy_setopt_read_function(CURL *handle, curl_read_callback callback);
CURLcode ccurl_easy_setopt_header_function(CURL *handle, curl_write_callback callback);
CURLcode ccurl_easy_setopt_opensocket_function(CURL *handle, curl_opensocket_callback callback);

CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ccurl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode ccurl_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **value);

CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

/// The address inside `struct curl_sockaddr`. Its `addr` member is declared as a plain
/// `struct sockaddr` (16 bytes) but holds `addrlen` bytes, a whole `sockaddr_in6` for IPv6,
/// so it must be read through a pointer rather than copied out as a Swift struct.
static inline const struct sockaddr *ccurl_sockaddr_address(const struct curl_sockaddr *address) {
    return &address->addr;
}

#endif
