// admin_worker: audit log and live rates (see the header).
#include "actors/admin_worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/audit_sampler.hpp"
#include "actors/chat_messages.hpp"
#include "actors/chat_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "protocol/json_writer.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics.hpp"
#include "storage/commit_pool.hpp"
#include "storage/ids.hpp"
#include "storage/keys.hpp"
#include "storage/schema.hpp"
#include "storage/store.hpp"

namespace sb::actors {

namespace {

using namespace std::chrono_literals;
namespace rt = runtime;

live_rates& mutable_rates() {
  static live_rates r;
  return r;
}

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
double process_cpu_seconds() {
  std::ifstream in{"/proc/self/stat"};
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = all.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream fields{all.substr(close + 2)};
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // Fields after the command: state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14)
      utime = std::strtoull(f.c_str(), nullptr, 10);
    if (i == 15)
      stime = std::strtoull(f.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Audit records are keyed by id (storage::schema::audit_key); ids rise with time
/// (ms << 16 | counter), so a scan returns records oldest first and an id is a stable
/// paging cursor.
using storage::schema::audit_key;

uint64_t audit_id_of(std::string_view key) {
  return storage::keys::decode_id(key).value_or(0);
}

/// Audit records older than this are deleted, at most audit_prune_step a minute (a polling
/// console writes a few records a second), so the log cannot grow without bound.
constexpr auto audit_retention = std::chrono::hours(24 * 90);
constexpr size_t audit_prune_step = 1000;
constexpr uint64_t audit_prune_every_ticks = 60; // ticks are 1 s apart: a step a minute

/// Deletes up to audit_prune_step records older than audit_retention (oldest first).
void prune_audit(const node_context& ctx) {
  auto cutoff = unix_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(
                              audit_retention).count();
  if (cutoff <= 0)
    return;
  auto page = ctx.db->scan_records(storage::table::audit, "", "", audit_prune_step);
  if (!page)
    return;
  std::vector<storage::record_op> ops;
  for (auto& [k, v] : *page) {
    if (static_cast<int64_t>(audit_id_of(k) >> 16) >= cutoff)
      break;
    ops.push_back({storage::table::audit, k, std::nullopt});
  }
  if (!ops.empty())
    (void) ctx.db->write_records(ops, false); // best effort: retried next hour
}

struct worker_state {
  uint64_t last_audit_id = 0;
  uint64_t ticks = 0;
  // Reads and calls without the token are sampled by kind (audit_sampler.hpp), so neither
  // a polling console nor a flood of bad tokens grows the store with its rate.
  audit_sampler sampler;
  // Rate sampling: one sample a second, rates over the last 5 s.
  struct sample {
    std::chrono::steady_clock::time_point at;
    uint64_t events = 0, delivered = 0, commits = 0;
    double cpu = 0;
    rt::metrics::histogram::snapshot commit_latency;
  };
  std::deque<sample> samples;
};

void sample_rates(worker_state& ws, const node_context& ctx) {
  auto& m = chat_metrics::get();
  worker_state::sample s;
  s.at = std::chrono::steady_clock::now();
  s.events = m.events_committed.value();
  s.delivered = m.messages_delivered.value();
  s.commits = ctx.writer ? ctx.writer->stats().commits : 0;
  s.cpu = process_cpu_seconds();
  s.commit_latency = m.commit_latency.read();
  ws.samples.push_back(std::move(s));
  while (ws.samples.size() > 6)
    ws.samples.pop_front();
  if (ws.samples.size() < 2)
    return;
  auto& a = ws.samples.front();
  auto& b = ws.samples.back();
  auto dt = std::chrono::duration<double>(b.at - a.at).count();
  if (dt <= 0)
    return;
  auto& r = mutable_rates();
  r.events_in = static_cast<double>(b.events - a.events) / dt;
  r.events_out = static_cast<double>(b.delivered - a.delivered) / dt;
  r.commits = static_cast<double>(b.commits - a.commits) / dt;
  r.cpu_cores = (b.cpu - a.cpu) / dt;
  auto window = b.commit_latency.minus(a.commit_latency);
  r.p50_ms = window.quantile(0.50) * 1000;
  r.p99_ms = window.quantile(0.99) * 1000;
}

/// Writes one audit record; `count` calls of its kind from `first_ms` (0: one call, now).
void write_audit(worker_state& ws, const node_context& ctx, const audit_kind& k,
                 const std::string& query, const std::string& target, int64_t now,
                 uint64_t count, int64_t first_ms, bool sync) {
  auto id = std::max(ws.last_audit_id + 1, static_cast<uint64_t>(unix_ms()) << 16);
  ws.last_audit_id = id;
  std::string v;
  protocol::json_writer w{v};
  w.begin_object().field("id", std::to_string(id)).key("time").sint(now)
    .field("who", k.who).field("method", k.method).field("path", k.path)
    .field("query", query).field("target", target)
    .field("status", uint64_t{k.status}).field("code", k.code).field("count", count);
  if (first_ms != 0)
    w.key("first").sint(first_ms);
  w.end_object();
  if (auto s = ctx.db->put_record(storage::table::audit, audit_key(id), v, sync); !s.ok())
    runtime::log::error("audit_write_failed", {{"path", k.path}});
}

/// The interface plus the once-a-second sampling tick, which only the worker sends itself.
using admin_worker_behavior = admin_worker_actor::extend<caf::reacts_to<tick_atom>>::behavior_type;

caf::behavior admin_worker(rt::supervised_actor* self, node_context_ptr ctx) {
  auto ws = std::make_shared<worker_state>();
  self->send(self, tick_atom::value);
  return admin_worker_behavior{
    [self, ctx, ws](tick_atom) {
      sample_rates(*ws, *ctx);
      for (auto& r : ws->sampler.roll(unix_ms()))
        write_audit(*ws, *ctx, r.kind, r.query, {}, r.last_ms, r.count, r.first_ms, false);
      if (ws->ticks++ % audit_prune_every_ticks == 0)
        prune_audit(*ctx);
      self->delayed_send(self, 1s, tick_atom::value);
    },
    [ctx, ws](audit_atom, audit_record& rec) {
      auto now = unix_ms();
      audit_kind k{std::move(rec.who), std::move(rec.method), std::move(rec.path), rec.status,
                   std::move(rec.code)};
      // Actions with the token, one by one and synced before the next record; the rest
      // sampled, riding on the next sync (a clean shutdown flushes them too).
      bool action = k.who == "admin-token" && k.method != "GET";
      if (!action && !ws->sampler.admit(k, rec.query, now))
        return;
      write_audit(*ws, *ctx, k, rec.query, rec.target, now, 1, 0, action);
    },
    [ctx](audit_page_atom, uint64_t after,
          uint32_t limit) -> caf::result<std::vector<std::string>, uint64_t> {
      auto from = after == 0 ? std::string{} : audit_key(after);
      auto page = ctx->db->scan_records(storage::table::audit, "", from, limit);
      if (!page)
        return caf::make_error(caf::sec::runtime_error);
      std::vector<std::string> records;
      for (auto& [k, v] : *page)
        records.push_back(std::move(v));
      uint64_t next = page->size() == limit && !page->empty() ? audit_id_of(page->back().first)
                                                              : 0;
      return {std::move(records), next};
    },
  }.unbox();
}

} // namespace

storage_counters read_storage_counters(const node_context& ctx) {
  storage_counters c;
  c.node_id = ctx.ids ? static_cast<uint64_t>(ctx.ids->node_id()) : 0;
  if (ctx.writer) {
    auto s = ctx.writer->stats();
    c.has_writer = true;
    c.commits = s.commits;
    c.rejected_busy = s.rejected_busy;
    c.failed_batches = s.failed_batches;
  }
  return c;
}

const live_rates& rates() {
  return mutable_rates();
}

runtime::child_spec admin_worker_spec(node_context_ptr ctx) {
  chat_metrics::get(); // every chat metric is listed from start-up on, at zero
  runtime::child_spec cs;
  cs.id = admin_worker_name().key;
  cs.kind = admin_worker_name().kind;
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) {
    return c.self->spawn<caf::detached>(admin_worker, ctx);
  };
  return cs;
}

} // namespace sb::actors
