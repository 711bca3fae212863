// admin_metrics: GET /metrics (Prometheus text, unauthenticated and read-only: counters
// only, never chat content, so an ordinary scraper needs no secret) and GET
// /admin/api/overview (node totals and the admin worker's live rates).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "actors/admin_worker.hpp"
#include "actors/admission.hpp"
#include "actors/cluster_metrics.hpp"
#include "actors/fencing.hpp"
#include "cluster/view_source.hpp"
#include "http/admin_common.hpp"
#include "http/router.hpp"
#include "transport/transport_stats.hpp"
#include "runtime/messages.hpp"
#include "runtime/metrics.hpp"
#include "runtime/registry.hpp"

namespace sb::http {

namespace {

using namespace sb::actors;
namespace rt = runtime;

const auto process_start = std::chrono::steady_clock::now();
/// Unix seconds when the process started (process_start_time_seconds).
const double process_start_unix =
  std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

#ifndef SB_VERSION
#define SB_VERSION "unknown"
#endif

/// User plus system CPU seconds of the process.
double cpu_seconds() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0)
    return 0;
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

/// Open file descriptors (entries of /proc/self/fd, less the one reading it).
double open_fds() {
  std::error_code ec;
  size_t n = 0;
  for (std::filesystem::directory_iterator it{"/proc/self/fd", ec}, end; !ec && it != end;
       it.increment(ec))
    ++n;
  return n > 0 ? static_cast<double>(n - 1) : 0;
}

double max_fds() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY)
    return 0;
  return static_cast<double>(r.rlim_cur);
}

/// Resident set size from /proc/self/statm (pages -> bytes).
uint64_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident))
    return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

/// Node-wide aggregates from the root snapshot (children supervisors expanded once).
struct node_totals {
  uint64_t connections = 0, users = 0, channels = 0;
  std::map<std::string, rt::kind_summary> kinds; // merged over the tree
  uint64_t supervisor_restarts = 0;
};

node_totals totals_of(const rt::subtree_snapshot& root) {
  node_totals t;
  auto merge = [&t](const rt::subtree_snapshot& s) {
    for (auto& k : s.kinds) {
      auto& m = t.kinds[k.kind];
      m.kind = k.kind;
      m.count += k.count;
      m.restarts += k.restarts;
      m.max_mailbox_depth = std::max(m.max_mailbox_depth, k.max_mailbox_depth);
      m.messages_handled += k.messages_handled;
    }
  };
  merge(root);
  for (auto& n : root.nested) {
    merge(n);
    if (n.self.key == "connections")
      t.connections = n.total_children;
    else if (n.self.key == "users")
      t.users = n.total_children;
    else if (n.self.key == "channels")
      t.channels = n.total_children;
  }
  return t;
}

/// Snapshot of the root plus one row-less snapshot of each registered child supervisor
/// (in `nested`): every kind summary of the tree at the cost of a few small messages.
void node_snapshot(request_actor* self, std::function<void(rt::subtree_snapshot&)> k) {
  auto root = self->state.ctx->names->get("supervisor", "node");
  if (!root)
    return fail(self, 503, "unavailable", "the node's supervision tree is not running");
  rt::snapshot_query q;
  q.kind = "supervisor";
  q.limit = 100;
  self->request(root, probe_timeout, rt::snapshot_atom::value, q)
    .then(
      [self, k](rt::subtree_snapshot& s) {
        struct gather {
          rt::subtree_snapshot root;
          size_t remaining = 0;
        };
        auto g = std::make_shared<gather>();
        g->root = std::move(s);
        std::vector<caf::actor> subs;
        for (auto& row : g->root.children)
          if (auto h = self->state.ctx->names->get("supervisor", row.key))
            subs.push_back(h);
        g->root.children.clear();
        g->remaining = subs.size();
        if (subs.empty())
          return k(g->root);
        rt::snapshot_query one;
        one.limit = 1;
        one.kind = "-"; // no rows: only the self row, counts and kind summaries
        for (auto& h : subs)
          self->request(h, probe_timeout, rt::snapshot_atom::value, one)
            .then(
              [g, k](rt::subtree_snapshot& n) {
                g->root.nested.push_back(std::move(n));
                if (--g->remaining == 0)
                  k(g->root);
              },
              [g, k](caf::error&) {
                if (--g->remaining == 0)
                  k(g->root);
              });
      },
      [self](caf::error& err) { fail_request(self, err); });
}

void overview(request_actor* self) {
  node_snapshot(self, [self](rt::subtree_snapshot& root) {
    auto t = totals_of(root);
    auto& ctx = *self->state.ctx;
    auto& r = rates();
    auto threads = self->system().scheduler().num_workers();
    std::string out;
    protocol::json_writer w{out};
    w.begin_object()
      .field("node_id", read_storage_counters(ctx).node_id)
      .field("uptime_s", static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                 std::chrono::steady_clock::now() - process_start)
                                                 .count()))
      .field("connections", t.connections)
      .field("online_users", t.users)
      .field("channel_actors", t.channels)
      .raw_field("events_in_per_s", num(r.events_in.load()))
      .raw_field("events_out_per_s", num(r.events_out.load()))
      .raw_field("commits_per_s", num(r.commits.load()))
      .raw_field("commit_p50_ms", num(r.p50_ms.load()))
      .raw_field("commit_p99_ms", num(r.p99_ms.load()))
      .field("scheduler_threads", static_cast<uint64_t>(threads))
      .raw_field("cpu_cores_busy", num(r.cpu_cores.load()))
      .raw_field("scheduler_load",
                 num(threads ? r.cpu_cores.load() / static_cast<double>(threads) : 0))
      .field("rss_bytes", rss_bytes())
      .key("kinds").begin_array();
    for (auto& [name, k] : t.kinds)
      w.begin_object().field("kind", name).field("count", k.count).field("restarts", k.restarts)
        .field("max_mailbox_depth", k.max_mailbox_depth).end_object();
    w.end_array().end_object();
    ok(self, std::move(out));
  });
}

void metrics(request_actor* self) {
  node_snapshot(self, [self](rt::subtree_snapshot& root) {
    auto t = totals_of(root);
    std::string out;
    auto* cluster = self->state.ctx->cluster != nullptr ? &actors::cluster_metrics::get() : nullptr;
    rt::metrics::global().render(out);
    rt::metrics::text_writer w{out};
    if (cluster != nullptr) {
      // Cross-node messages of the channel data path, per peer node and direction.
      w.family("sb_cluster_messages_total",
               "Channel data path messages sent to (out) or received from (in) a peer node.",
               "counter");
      for (auto& [key, value] : cluster->snapshot())
        w.sample("sb_cluster_messages_total",
                 {{"peer", std::to_string(key.first)}, {"dir", key.second ? "out" : "in"}},
                 static_cast<double>(value));
    }
    w.family("sb_connections", "Open WebSocket sessions (connection actors).", "gauge")
      .sample("sb_connections", static_cast<double>(t.connections));
    w.family("sb_online_users", "Running user actors (users with a session).", "gauge")
      .sample("sb_online_users", static_cast<double>(t.users));
    w.family("sb_channel_actors", "Running channel actors.", "gauge")
      .sample("sb_channel_actors", static_cast<double>(t.channels));
    if (auto& a = self->state.ctx->admission) {
      w.family("sb_identifies_in_flight", "identifies being answered now.", "gauge")
        .sample("sb_identifies_in_flight", static_cast<double>(a->in_flight()));
      w.family("sb_identifies_in_flight_peak",
               "Most identifies answered at once since start (at most the admission bound).",
               "gauge")
        .sample("sb_identifies_in_flight_peak", static_cast<double>(a->peak()));
      w.family("sb_identifies_in_flight_max", "The admission bound (--max-identifies).", "gauge")
        .sample("sb_identifies_in_flight_max", static_cast<double>(a->max_in_flight()));
    }
    w.family("sb_actor_restarts_total", "Restarts performed by supervisors, by actor kind.",
             "counter");
    for (auto& [kind, k] : t.kinds)
      w.sample("sb_actor_restarts_total", {{"kind", kind}}, static_cast<double>(k.restarts));
    w.family("sb_mailbox_depth_max", "Deepest mailbox among actors of a kind, at scrape time.",
             "gauge");
    for (auto& [kind, k] : t.kinds)
      w.sample("sb_mailbox_depth_max", {{"kind", kind}},
               static_cast<double>(k.max_mailbox_depth));
    if (auto s = read_storage_counters(*self->state.ctx); s.has_writer) {
      w.family("sb_durable_commits_total", "Synced RocksDB writes of the group commit.",
               "counter")
        .sample("sb_durable_commits_total", static_cast<double>(s.commits));
      w.family("sb_durable_rejected_total", "Writes refused because the writer queue was full.",
               "counter")
        .sample("sb_durable_rejected_total", static_cast<double>(s.rejected_busy));
      w.family("sb_durable_failed_total", "Batches whose durable write failed.", "counter")
        .sample("sb_durable_failed_total", static_cast<double>(s.failed_batches));
    }
    if (auto* m = self->state.ctx->cluster)
      write_cluster_metrics(w, *m);
    w.family("sb_process_resident_memory_bytes", "Resident set size.", "gauge")
      .sample("sb_process_resident_memory_bytes", static_cast<double>(rss_bytes()));
    // The standard process collector's names, so stock dashboards and alerts work.
    w.family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
             "counter")
      .sample("process_cpu_seconds_total", cpu_seconds());
    w.family("process_open_fds", "Number of open file descriptors.", "gauge")
      .sample("process_open_fds", open_fds());
    w.family("process_max_fds", "Maximum number of open file descriptors.", "gauge")
      .sample("process_max_fds", max_fds());
    w.family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
             "gauge")
      .sample("process_start_time_seconds", process_start_unix);
    w.family("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge")
      .sample("process_resident_memory_bytes", static_cast<double>(rss_bytes()));
    w.family("sb_http_responses_total", "HTTP responses written, by status class.", "counter");
    {
      static constexpr const char* classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
      auto counts = transport::http_response_counts();
      for (size_t i = 0; i < counts.size(); ++i)
        w.sample("sb_http_responses_total", {{"class", classes[i]}}, static_cast<double>(counts[i]));
    }
    w.family("sb_ws_closes_total",
             "WebSocket and event-stream sessions ended, by close code (\"other\": any else).",
             "counter");
    for (auto [code, n] : transport::close_counts())
      w.sample("sb_ws_closes_total", {{"code", code != 0 ? std::to_string(code) : "other"}},
               static_cast<double>(n));
    w.family("sb_build_info", "Build of this node (value 1).", "gauge")
      .sample("sb_build_info", {{"version", SB_VERSION}}, 1.0);
    w.family("sb_uptime_seconds", "Seconds since the process started.", "gauge")
      .sample("sb_uptime_seconds",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - process_start)
                .count());
    auto r = json(200, std::move(out));
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    answer(self, std::move(r));
  });
}

} // namespace

/// GET /healthz: the process is up and answering (nothing else is checked).
void healthz(request_actor* self) {
  answer(self, json(200, R"({"status":"ok"})"));
}

/// GET /readyz: the store is open and the node serves: alone, always once listening; in a
/// cluster, joined and not fenced (its lease is surely alive). 503 `not_ready` otherwise,
/// saying why, so a load balancer sends clients elsewhere meanwhile.
void readyz(request_actor* self) {
  auto& ctx = *self->state.ctx;
  std::string why;
  if (ctx.db == nullptr)
    why = "the store is not open";
  else if (ctx.cluster != nullptr && ctx.cluster->state() != cluster::self_state::serving)
    why = std::string{"cluster membership is "} + cluster::to_string(ctx.cluster->state());
  else if (!may_serve(ctx))
    why = "this node is fenced (its lease may have lapsed)";
  if (!why.empty())
    return fail(self, 503, "not_ready", why);
  answer(self, json(200, R"({"status":"ready"})"));
}

void add_metrics_routes(std::vector<route>& out) {
  out.insert(out.end(), {
    {"GET", "/healthz", access::open, healthz},
    {"GET", "/readyz", access::open, readyz},
    {"GET", "/metrics", access::open, metrics},
    {"GET", "/admin/api/overview", access::admin, overview},
  });
}

} // namespace sb::http
