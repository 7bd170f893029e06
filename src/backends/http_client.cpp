#include "medvlmbench/backends/http_client.h"

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <mutex>

#include "medvlmbench/core/strings.h"

namespace mvb::api {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyHandle {
  CURL* h = nullptr;
  EasyHandle() {
    global_init_once();
    h = curl_easy_init();
  }
  ~EasyHandle() {
    if (h) curl_easy_cleanup(h);
  }
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    auto* headers = static_cast<std::map<std::string, std::string>*>(user);
    (*headers)[to_lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return size * n;
}

// Counts the request heads libcurl sends. libcurl resends a request by itself when a reused
// keep-alive connection turns out dead before any reply byte (the server may have read, and billed,
// the first one), so one curl_easy_perform can be several requests on the wire (issue 18, defect 8).
int on_debug(CURL*, curl_infotype type, char*, size_t, void* user) {
  if (type == CURLINFO_HEADER_OUT) ++*static_cast<int*>(user);
  return 0;
}

}  // namespace

HttpResponse http_send(const HttpRequest& req) {
  thread_local EasyHandle easy;
  HttpResponse resp;
  CURL* h = easy.h;
  if (!h) {
    resp.network_error = "curl_easy_init failed";
    return resp;
  }
  curl_easy_reset(h);  // keeps the connection cache, clears the previous request's options
  curl_slist* headers = nullptr;
  for (const auto& line : req.headers) headers = curl_slist_append(headers, line.c_str());
  for (const auto& line : req.secret_headers) headers = curl_slist_append(headers, line.c_str());
  // curl would otherwise send "Expect: 100-continue" for large bodies and wait a round trip.
  headers = curl_slist_append(headers, "Expect:");
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (req.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout_s * 1000));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout_s * 1000));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // required for timeouts in multi-threaded programs
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // whatever curl can decode
  // The debug callback sees every request head sent; VERBOSE only routes it there (nothing printed).
  curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
  curl_easy_setopt(h, CURLOPT_DEBUGDATA, &resp.sends);
  curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
  const auto t0 = std::chrono::steady_clock::now();
  const CURLcode rc = curl_easy_perform(h);
  resp.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  resp.status = static_cast<int>(status);
  if (rc != CURLE_OK) {
    resp.network_error = std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
    resp.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
  }
  curl_slist_free_all(headers);
  return resp;
}

}  // namespace mvb::api
