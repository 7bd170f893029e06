// A minimal blocking HTTP client over libcurl for the API backends. Each thread keeps its own curl
// handle, so concurrent requests from a thread pool reuse their TCP connections (keep-alive).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace mvb::api {

struct HttpRequest {
  std::string method = "POST";  // POST or GET
  std::string url;
  // Header lines "Name: value". Secret headers (the API key) are given separately so that nothing
  // that formats a request for logs can include them by accident.
  std::vector<std::string> headers;
  std::vector<std::string> secret_headers;
  std::string body;
  double timeout_s = 300;  // whole request
  double connect_timeout_s = 30;
};

struct HttpResponse {
  int status = 0;  // HTTP status; 0 when no response arrived (network error)
  std::string body;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string network_error;                   // curl's message when the transfer failed
  bool timed_out = false;
  double elapsed_s = 0;
  // Request heads put on the wire: 1 normally, 2 when libcurl resent the request after a reused
  // connection died, 0 when none went out (connection refused).
  int sends = 0;
  bool ok() const { return network_error.empty() && status >= 200 && status < 300; }
};

// Sends a request and waits for the whole response. Never throws for HTTP or network failures: they
// are reported in the response for the retry policy to judge.
HttpResponse http_send(const HttpRequest& req);

}  // namespace mvb::api
