// Health probes, process metrics and --version (issue 17, "Health and metrics"): what a
// load balancer, Prometheus and an operator ask of a node, against the real binary.
#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <string>
#include <thread>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

bool eventually_true(const std::function<bool()>& f) {
  for (int i = 0; i < 50; ++i) {
    if (f())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

} // namespace

TEST_CASE("switchboard --version prints the version and exits 0, starting nothing") {
  temp_dir dir;
  child_process p{SB_SERVER_PATH, {"--version", "--port=0"}, dir.path(), dir.sub("version.log")};
  auto rc = p.wait(10s);
  REQUIRE(rc.has_value());
  CHECK(*rc == 0);
  CHECK(p.output().find("switchboard 0.1.0") != std::string::npos);
  CHECK(p.output().find("listening") == std::string::npos);
}

TEST_CASE("/healthz and /readyz answer without a token; /metrics has the process collector") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto h = node.http("GET", "/healthz");
  CHECK(h.status == 200);
  CHECK(h.body == R"({"status":"ok"})");
  auto r = node.http("GET", "/readyz");
  CHECK(r.status == 200);
  CHECK(r.body == R"({"status":"ready"})");
  CHECK(node.http("POST", "/readyz").status == 405);
  CHECK(metric(node, "process_open_fds") > 5);
  CHECK(metric(node, "process_max_fds") >= metric(node, "process_open_fds"));
  CHECK(metric(node, "process_cpu_seconds_total") > 0);
  CHECK(metric(node, "process_resident_memory_bytes") > 1e6);
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(metric(node, "process_start_time_seconds") <= now + 1);
  CHECK(metric(node, "process_start_time_seconds") > now - 120);
  auto m = node.http("GET", "/metrics");
  CHECK(m.body.find("\nsb_build_info{version=\"0.1.0\"} 1\n") != std::string::npos);
  CHECK(m.body.find("# TYPE process_cpu_seconds_total counter") != std::string::npos);
  // Responses by class and sessions by close code.
  auto labelled = [&](const std::string& sample) {
    auto body = node.http("GET", "/metrics").body;
    auto at = body.find("\n" + sample + " ");
    return at == std::string::npos ? -1.0 : std::stod(body.substr(at + sample.size() + 2));
  };
  CHECK(node.http("GET", "/api/nope").status == 401); // no token: refused first
  CHECK(labelled("sb_http_responses_total{class=\"2xx\"}") >= 3);
  CHECK(labelled("sb_http_responses_total{class=\"4xx\"}") >= 2);
  const double closed_before = labelled("sb_ws_closes_total{code=\"1000\"}");
  CHECK(closed_before == 0);
  auto [id, token] = node.user("ada");
  {
    gateway_client c;
    REQUIRE(c.open(node.port(), token) == "");
    CHECK(c.ws.close(1000) == "");
  }
  CHECK(eventually_true([&] { return labelled("sb_ws_closes_total{code=\"1000\"}") == 1; }));
  CHECK(labelled("sb_ws_closes_total{code=\"other\"}") == 0);
  CHECK(node.stop() == 0);
}
