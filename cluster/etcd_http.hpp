// etcd_http: one keep-alive HTTP/1.1 connection to etcd's gateway, blocking with a deadline.
//
// Internal to sb_cluster; Beast stays in etcd_http.cpp. A failed call closes the connection;
// the next call connects again, so a restarted etcd is picked up without the caller's help.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "cluster/etcd.hpp"

namespace sb::cluster::etcd::detail {

struct http_reply {
  unsigned status = 0;
  std::string body;
};

class http_connection {
public:
  http_connection(endpoint where, std::chrono::milliseconds deadline);
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  /// POSTs `body` (JSON) to `target`. unavailable when connecting, writing or reading fails
  /// or the deadline passes; bad_reply for a reply that is not HTTP or is too large.
  result<http_reply> post(std::string_view target, const std::string& body);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace sb::cluster::etcd::detail
