// admin_api: the operator API, /metrics and the admin worker (contract in admin_api.hpp).
//
// Bounds: topology pages hold at most 1,000 rows (snapshot_query::max_page), the top-actors
// list at most 100 rows after scanning at most 200 pages of 1,000 children per supervisor,
// an audit page at most 200 records, a passivate call at most 10,000 channels, a channel
// detail at most 100 members and subscribers, a connection detail at most 100 channels.
#include "actors/admin_api.hpp"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <simdjson.h>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/chat_messages.hpp"
#include "actors/chat_metrics.hpp"
#include "protocol/json_writer.hpp"
#include "transport/url.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/errors.hpp"
#include "runtime/introspection.hpp"
#include "runtime/log.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"
#include "storage/commit_pool.hpp"
#include "storage/ids.hpp"
#include "storage/store.hpp"
#include "transport/server.hpp"

namespace sb::actors::admin_detail {

/// One audit record, built by a request actor and written by the admin worker.
struct audit_record {
  std::string who;     ///< "admin-token" (valid token), "anonymous" or "invalid-token"
  std::string method;  ///< HTTP method
  std::string path;    ///< path without the query
  std::string query;   ///< query string (truncated)
  std::string target;  ///< action target, e.g. "channel/123" ("" for reads)
  unsigned status = 0; ///< HTTP status answered
  std::string code;    ///< "ok" or the error code answered
};

} // namespace sb::actors::admin_detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::admin_detail::audit_record)

namespace sb::actors {

namespace {

using namespace std::chrono_literals;
using admin_detail::audit_record;
using transport::http_request;
using transport::http_response;
using responder = std::function<void(http_response)>;
namespace rt = runtime;

using audit_atom = caf::atom_constant<caf::atom("audit")>;
using audit_page_atom = caf::atom_constant<caf::atom("auditpage")>;

/// Close code of a session an operator disconnected (docs/protocol.md: re-identify).
constexpr uint16_t close_disconnected = 4007;
constexpr uint32_t max_audit_page = 200;
constexpr uint32_t max_top_actors = 100;
constexpr uint32_t max_scan_pages = 200; // x 1,000 children per supervisor
constexpr uint32_t max_passivate = 10000;
constexpr size_t max_path_segments = 8;
constexpr auto probe_timeout = 3s;

const auto process_start = std::chrono::steady_clock::now();

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// A number with a fraction, as JSON (json_writer has no doubles).
std::string num(double v) {
  if (!std::isfinite(v))
    return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// -- live rates (written once a second by the admin worker, read by overview) --------

struct live_rates {
  std::atomic<double> events_in{0}, events_out{0}, commits{0}, p50_ms{0}, p99_ms{0},
    cpu_cores{0};
};

live_rates& rates() {
  static live_rates r;
  return r;
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

/// Resident set size from /proc/self/statm (pages -> bytes).
uint64_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident))
    return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// -- request parsing -----------------------------------------------------------------

using transport::parse_u64;


struct route {
  std::string path;
  std::string query;
  std::vector<std::string> parts;
  std::vector<std::pair<std::string, std::string>> params; // decoded
  bool bad_query = false;

  std::optional<std::string> param(std::string_view k) const {
    for (auto& [a, b] : params)
      if (a == k)
        return b;
    return std::nullopt;
  }
};

route split(std::string_view target) {
  route r;
  auto q = target.find('?');
  r.path = std::string{target.substr(0, q)};
  if (q != std::string_view::npos) {
    r.query = std::string{target.substr(q + 1)};
    std::string_view qs = r.query;
    while (!qs.empty()) {
      auto amp = qs.find('&');
      auto kv = qs.substr(0, amp);
      auto eq = kv.find('=');
      auto k = transport::percent_decode(kv.substr(0, eq), true);
      auto v = transport::percent_decode(
        eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1), true);
      if (!k || !v)
        r.bad_query = true;
      else if (!k->empty())
        r.params.emplace_back(std::move(*k), std::move(*v));
      if (amp == std::string_view::npos)
        break;
      qs = qs.substr(amp + 1);
    }
  }
  std::string_view path = r.path;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto seg = path.substr(0, slash);
    if (!seg.empty())
      r.parts.emplace_back(seg);
    if (slash == std::string_view::npos)
      break;
    path = path.substr(slash + 1);
  }
  return r;
}

/// The dynamic supervisor of a child kind ("" when the kind is not one).
std::string supervisor_of(std::string_view kind) {
  if (kind == "channel")
    return "channels";
  if (kind == "user")
    return "users";
  if (kind == "connection")
    return "connections";
  return {};
}

// -- JSON of snapshots ---------------------------------------------------------------

void write_info(protocol::json_writer& w, const rt::actor_info& a) {
  w.begin_object()
    .field("actor_id", a.actor_id)
    .field("parent_id", a.parent_id)
    .field("cursor", a.cursor)
    .field("id", a.id)
    .field("kind", a.kind)
    .field("key", a.key)
    .field("state", a.state)
    .field("is_supervisor", a.is_supervisor)
    .field("instrumented", a.instrumented)
    .field("mailbox_depth", a.mailbox_depth)
    .field("messages_handled", a.messages_handled)
    .field("restarts", a.restarts)
    .field("last_exit_reason", a.last_exit_reason)
    .key("started_at_ms").sint(a.started_at_ms)
    .end_object();
}

void write_snapshot(protocol::json_writer& w, const rt::subtree_snapshot& s,
                    const std::string& path) {
  w.begin_object().field("path", path).key("self");
  write_info(w, s.self);
  w.field("strategy", s.strategy)
    .field("total_children", s.total_children)
    .field("matching_children", s.matching_children)
    .field("total_restarts", s.total_restarts)
    .key("kinds").begin_array();
  for (auto& k : s.kinds)
    w.begin_object().field("kind", k.kind).field("count", k.count).field("restarts", k.restarts)
      .field("max_mailbox_depth", k.max_mailbox_depth)
      .field("messages_handled", k.messages_handled).end_object();
  w.end_array().key("children").begin_array();
  for (auto& c : s.children)
    write_info(w, c);
  w.end_array().field("next_cursor", s.next_cursor).key("nested").begin_array();
  for (auto& n : s.nested)
    write_snapshot(w, n, path + "/" + n.self.key);
  w.end_array().end_object();
}

// -- the request actor ---------------------------------------------------------------

struct admin_state {
  node_context_ptr ctx;
  responder respond;
  audit_record audit;
  bool answered = false;
  static inline const char* name = "admin_request";
};

using admin_actor = caf::stateful_actor<admin_state>;

/// Answers once, audits the call (on the admin worker, before the answer leaves, so a
/// client that reads the audit log next sees it) and ends the actor.
void answer(admin_actor* self, unsigned status, std::string body, std::string code,
            std::string content_type = "application/json") {
  auto& st = self->state;
  if (st.answered)
    return;
  st.answered = true;
  if (!st.audit.method.empty()) {
    st.audit.status = status;
    st.audit.code = std::move(code);
    if (auto w = st.ctx->names->get("admin", "admin"))
      self->send(w, audit_atom::value, std::move(st.audit));
  }
  http_response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  st.respond(std::move(r));
  self->quit();
}

void ok(admin_actor* self, std::string body) {
  answer(self, 200, std::move(body), "ok");
}

void fail(admin_actor* self, unsigned status, std::string_view code, std::string_view message) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().field("code", code).field("message", message).end_object();
  answer(self, status, std::move(out), std::string{code});
}

/// Maps an error of a request to an actor: gone, timed out, unknown child, other.
void fail_request(admin_actor* self, const caf::error& err) {
  if (err.category() == rt::runtime_error_category()) {
    if (err.code() == static_cast<uint8_t>(rt::errc::unknown_child))
      return fail(self, 404, "unknown_actor", "no such actor under its supervisor");
    if (err.code() == static_cast<uint8_t>(rt::errc::shutting_down))
      return fail(self, 503, "shutting_down", "the supervisor is stopping");
  }
  if (err == caf::sec::request_receiver_down)
    return fail(self, 409, "actor_gone", "the actor stopped while the request was made");
  if (err == caf::sec::request_timeout)
    return fail(self, 504, "timeout", "the actor did not answer in time");
  fail(self, 500, "internal", "unexpected error");
}

// -- supervisor lookup ---------------------------------------------------------------

/// Resolves `path` ("node", "node/channels", ...) to a supervisor, segment by segment:
/// each one must be a supervisor child of the previous (checked on its snapshot row).
void resolve_path(admin_actor* self, std::shared_ptr<std::vector<std::string>> segs,
                  size_t i, caf::actor at, std::function<void(caf::actor)> k) {
  if (i == segs->size())
    return k(at);
  rt::snapshot_query q;
  q.key_prefix = (*segs)[i];
  q.limit = rt::snapshot_query::max_page;
  self->request(at, probe_timeout, rt::snapshot_atom::value, q)
    .then(
      [self, segs, i, at, k](rt::subtree_snapshot& snap) {
        auto& want = (*segs)[i];
        auto row = std::find_if(snap.children.begin(), snap.children.end(),
                                [&](const rt::actor_info& r) { return r.key == want; });
        if (row == snap.children.end() || !row->is_supervisor)
          return fail(self, 404, "unknown_path", "no supervisor '" + want + "' at that path");
        self->request(at, probe_timeout, rt::which_child_atom::value, want)
          .then(
            [self, segs, i, k](caf::actor& child) {
              if (!child)
                return fail(self, 409, "actor_restarting", "that supervisor is restarting");
              resolve_path(self, segs, i + 1, child, k);
            },
            [self](caf::error& err) { fail_request(self, err); });
      },
      [self](caf::error& err) { fail_request(self, err); });
}

/// Finds the snapshot row of (kind, key) under its dynamic supervisor (paging through
/// children whose key starts with `key`, at most 10 pages).
void find_row(admin_actor* self, caf::actor sup, std::string key, uint64_t after, int pages,
              std::function<void(rt::actor_info&)> k) {
  rt::snapshot_query q;
  q.key_prefix = key;
  q.after = after;
  q.limit = rt::snapshot_query::max_page;
  self->request(sup, probe_timeout, rt::snapshot_atom::value, q)
    .then(
      [self, sup, key, pages, k](rt::subtree_snapshot& snap) {
        for (auto& r : snap.children)
          if (r.key == key)
            return k(r);
        if (snap.next_cursor == 0 || pages >= 10)
          return fail(self, 404, "unknown_actor", "no such actor");
        find_row(self, sup, key, snap.next_cursor, pages + 1, k);
      },
      [self](caf::error& err) { fail_request(self, err); });
}

// -- endpoints -----------------------------------------------------------------------

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
void node_snapshot(admin_actor* self, std::function<void(rt::subtree_snapshot&)> k) {
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

void overview(admin_actor* self) {
  node_snapshot(self, [self](rt::subtree_snapshot& root) {
    auto t = totals_of(root);
    auto& ctx = *self->state.ctx;
    auto& r = rates();
    auto threads = self->system().scheduler().num_workers();
    std::string out;
    protocol::json_writer w{out};
    w.begin_object()
      .field("node_id", static_cast<uint64_t>(ctx.ids ? ctx.ids->node_id() : 0))
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

void topology(admin_actor* self, const route& r) {
  auto path = r.param("path").value_or("node");
  auto segs = std::make_shared<std::vector<std::string>>();
  {
    auto parts = split("/" + path).parts;
    if (parts.empty() || parts.size() > max_path_segments || parts.front() != "node")
      return fail(self, 404, "unknown_path", "path must start with 'node' (e.g. node/channels)");
    segs->assign(parts.begin() + 1, parts.end());
  }
  rt::snapshot_query q;
  if (auto a = r.param("after")) {
    auto v = parse_u64(*a);
    if (!v)
      return fail(self, 400, "bad_value", "after must be a cursor (unsigned integer)");
    q.after = *v;
  }
  q.limit = 100;
  if (auto l = r.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return fail(self, 400, "bad_value", "limit must be 1..1000");
    q.limit = static_cast<uint32_t>(std::min<uint64_t>(*v, rt::snapshot_query::max_page));
  }
  if (auto d = r.param("depth")) {
    auto v = parse_u64(*d);
    if (!v || *v > rt::snapshot_query::max_depth)
      return fail(self, 400, "bad_value", "depth must be 0..3");
    q.depth = static_cast<uint32_t>(*v);
  }
  q.kind = r.param("kind").value_or("");
  q.key_prefix = r.param("q").value_or("");
  if (q.kind.size() > 64 || q.key_prefix.size() > 128)
    return fail(self, 400, "bad_value", "kind at most 64 bytes, q at most 128 bytes");
  auto root = self->state.ctx->names->get("supervisor", "node");
  if (!root)
    return fail(self, 503, "unavailable", "the node's supervision tree is not running");
  std::string clean = "node";
  for (auto& s : *segs)
    clean += "/" + s;
  resolve_path(self, segs, 0, root, [self, q, clean](caf::actor sup) {
    self->request(sup, probe_timeout, rt::snapshot_atom::value, q)
      .then(
        [self, clean](rt::subtree_snapshot& snap) {
          std::string out;
          protocol::json_writer w{out};
          write_snapshot(w, snap, clean);
          ok(self, std::move(out));
        },
        [self](caf::error& err) { fail_request(self, err); });
  });
}

/// State of a top-actors scan over the dynamic supervisors.
struct scan_state {
  std::vector<std::pair<std::string, caf::actor>> sups; // (path, handle)
  size_t sup = 0;
  uint64_t after = 0;
  uint32_t pages = 0;
  uint64_t scanned = 0;
  bool truncated = false;
  std::string sort;
  size_t limit = 20;
  std::vector<std::pair<std::string, rt::actor_info>> rows; // (supervisor path, row)

  uint64_t metric(const rt::actor_info& a) const {
    if (sort == "handled")
      return a.messages_handled;
    if (sort == "restarts")
      return a.restarts;
    return a.mailbox_depth;
  }
  void keep_top() {
    auto by = [this](const auto& x, const auto& y) {
      auto mx = metric(x.second), my = metric(y.second);
      return mx != my ? mx > my : x.second.actor_id < y.second.actor_id;
    };
    if (rows.size() > limit) {
      std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(limit),
                        rows.end(), by);
      rows.resize(limit);
    } else {
      std::sort(rows.begin(), rows.end(), by);
    }
  }
};

void scan_step(admin_actor* self, std::shared_ptr<scan_state> s) {
  if (s->sup == s->sups.size()) {
    s->keep_top();
    std::string out;
    protocol::json_writer w{out};
    w.begin_object().field("sort", s->sort).field("scanned", s->scanned)
      .field("truncated", s->truncated).key("actors").begin_array();
    for (auto& [path, row] : s->rows) {
      std::string one;
      protocol::json_writer rw{one};
      write_info(rw, row);
      one.pop_back();
      one += ",\"supervisor\":";
      protocol::append_json_string(one, path);
      one += "}";
      w.raw(one);
    }
    w.end_array().end_object();
    return ok(self, std::move(out));
  }
  rt::snapshot_query q;
  q.after = s->after;
  q.limit = rt::snapshot_query::max_page;
  self->request(s->sups[s->sup].second, probe_timeout, rt::snapshot_atom::value, q)
    .then(
      [self, s](rt::subtree_snapshot& snap) {
        auto& path = s->sups[s->sup].first;
        for (auto& row : snap.children) {
          ++s->scanned;
          s->rows.emplace_back(path, std::move(row));
        }
        if (s->rows.size() > 4 * s->limit + 1000)
          s->keep_top();
        ++s->pages;
        if (snap.next_cursor != 0 && s->pages < max_scan_pages) {
          s->after = snap.next_cursor;
        } else {
          s->truncated = s->truncated || snap.next_cursor != 0;
          ++s->sup;
          s->after = 0;
          s->pages = 0;
        }
        scan_step(self, s);
      },
      [self, s](caf::error&) {
        // A supervisor that does not answer (restarting) is skipped, not fatal.
        s->truncated = true;
        ++s->sup;
        s->after = 0;
        s->pages = 0;
        scan_step(self, s);
      });
}

void top_actors(admin_actor* self, const route& r) {
  auto s = std::make_shared<scan_state>();
  s->sort = r.param("sort").value_or("mailbox");
  if (s->sort != "mailbox" && s->sort != "handled" && s->sort != "restarts")
    return fail(self, 400, "bad_value", "sort must be mailbox, handled or restarts");
  if (auto l = r.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return fail(self, 400, "bad_value", "limit must be 1..100");
    s->limit = static_cast<size_t>(std::min<uint64_t>(*v, max_top_actors));
  }
  auto kind = r.param("kind").value_or("");
  std::vector<std::string> kinds{"channel", "user", "connection"};
  if (!kind.empty()) {
    if (supervisor_of(kind).empty())
      return fail(self, 400, "bad_kind", "kind must be channel, user or connection");
    kinds = {kind};
  }
  for (auto& k : kinds) {
    auto name = supervisor_of(k);
    if (auto sup = self->state.ctx->names->get("supervisor", name))
      s->sups.emplace_back("node/" + name, sup);
  }
  scan_step(self, s);
}

void write_channel_probe(protocol::json_writer& w, const channel_probe& p) {
  w.begin_object().id_field("channel", p.channel).field("exists", p.exists)
    .field("name", p.name).field("kind", p.kind).field("archived", p.archived)
    .field("head", p.head).field("next_seq", p.next_seq).field("inflight", p.inflight)
    .field("member_count", p.member_count).key("members").begin_array();
  for (auto m : p.members)
    w.id(m);
  w.end_array().field("subscriber_count", p.subscriber_count).key("subscriber_users")
    .begin_array();
  for (auto u : p.subscriber_users)
    w.id(u);
  w.end_array().key("rate_limit").begin_object()
    .raw_field("tokens", num(p.bucket_tokens)).raw_field("rate_per_s", num(p.bucket_rate))
    .raw_field("burst", num(p.bucket_burst)).end_object().end_object();
}

/// Heads of a connection's channels (each channel probed in parallel; a channel that is
/// not running or does not answer has head null), then the answer.
void connection_detail(admin_actor* self, std::string row_json, connection_probe p) {
  struct gather {
    std::string row_json;
    connection_probe p;
    std::vector<std::optional<uint64_t>> heads;
    size_t remaining = 0;
  };
  auto g = std::make_shared<gather>();
  g->row_json = std::move(row_json);
  g->p = std::move(p);
  g->heads.resize(g->p.channels.size());
  auto finish = [self, g] {
    std::string out;
    protocol::json_writer w{out};
    auto& p = g->p;
    w.begin_object().raw_field("actor", g->row_json).key("connection").begin_object()
      .id_field("user", p.user).field("session", p.session).field("phase", p.phase)
      .field("outbox_bytes", p.outbox_bytes).field("outbox_frames", p.outbox_frames)
      .raw_field("rate_tokens", num(p.bucket_tokens))
      .key("opened_ms").sint(p.opened_ms).key("last_heartbeat_ms").sint(p.last_heartbeat_ms)
      .field("closing", p.closing).field("channel_count", p.channel_count)
      .key("channels").begin_array();
    for (size_t i = 0; i < p.channels.size(); ++i) {
      auto& c = p.channels[i];
      w.begin_object().id_field("channel", c.channel).field("delivered", c.delivered)
        .field("replaying", c.replaying);
      if (g->heads[i]) {
        w.field("head", *g->heads[i]);
        w.field("lag", *g->heads[i] > c.delivered ? *g->heads[i] - c.delivered : uint64_t{0});
      } else {
        w.key("head").null().key("lag").null();
      }
      w.end_object();
    }
    w.end_array().end_object().end_object();
    ok(self, std::move(out));
  };
  auto& names = *self->state.ctx->names;
  for (size_t i = 0; i < g->p.channels.size(); ++i) {
    auto ch = names.get("channel", std::to_string(g->p.channels[i].channel));
    if (!ch)
      continue;
    ++g->remaining;
    self->request(ch, 2s, admin_probe_atom::value, uint32_t{0}, false)
      .then(
        [g, i, finish](channel_probe& cp) {
          g->heads[i] = cp.head;
          if (--g->remaining == 0)
            finish();
        },
        [g, finish](caf::error&) {
          if (--g->remaining == 0)
            finish();
        });
  }
  if (g->remaining == 0)
    finish();
}

void actor_detail(admin_actor* self, const std::string& kind, const std::string& key) {
  auto sup_name = supervisor_of(kind);
  if (sup_name.empty())
    return fail(self, 400, "bad_kind", "kind must be channel, user or connection");
  if (key.empty() || key.size() > 64)
    return fail(self, 404, "unknown_actor", "no such actor");
  auto sup = self->state.ctx->names->get("supervisor", sup_name);
  if (!sup)
    return fail(self, 503, "unavailable", sup_name + " supervisor is restarting");
  find_row(self, sup, key, 0, 0, [self, sup, kind, key](rt::actor_info& row) {
    std::string row_json;
    {
      protocol::json_writer w{row_json};
      write_info(w, row);
    }
    if (row.actor_id == 0) {
      // Restarting: only the supervisor's record is known.
      return ok(self, "{\"actor\":" + row_json + ",\"" + kind + "\":null}");
    }
    self->request(sup, probe_timeout, rt::which_child_atom::value, key)
      .then(
        [self, kind, row_json](caf::actor& hdl) {
          if (!hdl)
            return ok(self, "{\"actor\":" + row_json + ",\"" + kind + "\":null}");
          if (kind == "channel") {
            self->request(hdl, probe_timeout, admin_probe_atom::value, uint32_t{50}, false)
              .then(
                [self, row_json](channel_probe& p) {
                  std::string out;
                  protocol::json_writer w{out};
                  w.begin_object().raw_field("actor", row_json).key("channel");
                  write_channel_probe(w, p);
                  w.end_object();
                  ok(self, std::move(out));
                },
                [self](caf::error& err) { fail_request(self, err); });
          } else if (kind == "connection") {
            self->request(hdl, probe_timeout, admin_probe_atom::value, uint16_t{0})
              .then(
                [self, row_json](connection_probe& p) {
                  connection_detail(self, row_json, std::move(p));
                },
                [self](caf::error& err) { fail_request(self, err); });
          } else {
            self->request(hdl, probe_timeout, admin_probe_atom::value)
              .then(
                [self, row_json](user_probe& p) {
                  std::string out;
                  protocol::json_writer w{out};
                  w.begin_object().raw_field("actor", row_json).key("user").begin_object()
                    .id_field("user", p.user).field("devices", uint64_t{p.devices.size()})
                    .key("device_actor_ids").begin_array();
                  for (auto& d : p.devices)
                    w.uint(d.id());
                  w.end_array().end_object().end_object();
                  ok(self, std::move(out));
                },
                [self](caf::error& err) { fail_request(self, err); });
          }
        },
        [self](caf::error& err) { fail_request(self, err); });
  });
}

/// A JSON object body's string and integer fields; nullopt if not a JSON object.
struct action_body {
  std::optional<std::string> kind, key;
  std::optional<uint64_t> limit;
  bool wrong_type = false;
};

std::optional<action_body> parse_action(const std::string& body) {
  action_body out;
  if (body.empty())
    return out;
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded{body};
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj))
    return std::nullopt;
  for (auto field_result : obj) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key))
      return std::nullopt;
    auto value = field.value();
    if (key == "kind" || key == "key") {
      std::string_view s;
      if (value.get_string().get(s)) {
        out.wrong_type = true;
        return out;
      }
      (key == "kind" ? out.kind : out.key) = std::string{s};
    } else if (key == "limit") {
      uint64_t v = 0;
      if (value.get_uint64().get(v)) {
        out.wrong_type = true;
        return out;
      }
      out.limit = v;
    }
    // Unknown fields are ignored: iterating to the next field skips them.
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS)
    return std::nullopt; // trailing data after the object
  return out;
}

void stop_actor(admin_actor* self, const action_body& b) {
  if (!b.kind || !b.key)
    return fail(self, 400, "missing_field", "expected {\"kind\":..,\"key\":..}");
  auto sup_name = supervisor_of(*b.kind);
  if (sup_name.empty())
    return fail(self, 400, "bad_kind", "kind must be channel, user or connection");
  self->state.audit.target = *b.kind + "/" + b.key->substr(0, 64);
  auto sup = self->state.ctx->names->get("supervisor", sup_name);
  if (!sup)
    return fail(self, 503, "unavailable", sup_name + " supervisor is restarting");
  auto key = *b.key;
  auto kind = *b.kind;
  self->request(sup, probe_timeout, rt::which_child_atom::value, key)
    .then(
      [self, sup, key, kind](caf::actor& hdl) {
        if (!hdl)
          return fail(self, 409, "actor_restarting", "the actor is restarting");
        auto old_id = hdl.id();
        self->request(sup, probe_timeout, rt::kill_child_atom::value, key)
          .then(
            [self, old_id, kind, key]() {
              runtime::log::info("admin_stop", {{"kind", kind}, {"key", key},
                                                {"actor_id", std::to_string(old_id)}});
              std::string out;
              protocol::json_writer w{out};
              w.begin_object().field("stopped", true).field("actor_id", old_id).end_object();
              ok(self, std::move(out));
            },
            [self](caf::error& err) { fail_request(self, err); });
      },
      [self](caf::error& err) { fail_request(self, err); });
}

void disconnect_user(admin_actor* self, const std::string& id_text) {
  auto id = parse_u64(id_text);
  if (!id)
    return fail(self, 400, "bad_value", "the user id must be an unsigned integer");
  self->state.audit.target = "user/" + id_text;
  auto u = self->state.ctx->names->get("user", id_text);
  if (!u)
    return fail(self, 404, "unknown_actor", "the user has no sessions on this node");
  self->request(u, probe_timeout, admin_probe_atom::value)
    .then(
      [self, id_text](user_probe& p) {
        struct gather {
          size_t remaining = 0, closed = 0;
        };
        auto g = std::make_shared<gather>();
        auto finish = [self, g, id_text] {
          runtime::log::info("admin_disconnect",
                             {{"user", id_text}, {"sessions", std::to_string(g->closed)}});
          std::string out;
          protocol::json_writer w{out};
          w.begin_object().field("user", id_text).field("closed", uint64_t{g->closed})
            .field("close_code", uint64_t{close_disconnected}).end_object();
          ok(self, std::move(out));
        };
        g->remaining = p.devices.size();
        for (auto& d : p.devices)
          self->request(d, probe_timeout, admin_probe_atom::value, close_disconnected)
            .then(
              [g, finish](connection_probe&) {
                ++g->closed;
                if (--g->remaining == 0)
                  finish();
              },
              [g, finish](caf::error&) {
                if (--g->remaining == 0)
                  finish();
              });
        if (p.devices.empty())
          finish();
      },
      [self](caf::error& err) { fail_request(self, err); });
}

/// Pages through the channels supervisor and asks each running channel to passivate if
/// idle, one page (<= 1,000 requests) in flight at a time.
struct passivate_state {
  caf::actor sup;
  uint64_t after = 0;
  uint64_t limit = 1000;
  uint64_t asked = 0, passivated = 0;
};

void passivate_step(admin_actor* self, std::shared_ptr<passivate_state> s) {
  auto done = [self, s] {
    runtime::log::info("admin_passivate", {{"asked", std::to_string(s->asked)},
                                           {"passivated", std::to_string(s->passivated)}});
    std::string out;
    protocol::json_writer w{out};
    w.begin_object().field("asked", s->asked).field("passivated", s->passivated)
      .field("busy", s->asked - s->passivated).end_object();
    ok(self, std::move(out));
  };
  if (s->asked >= s->limit)
    return done();
  rt::snapshot_query q;
  q.after = s->after;
  q.limit = static_cast<uint32_t>(
    std::min<uint64_t>(rt::snapshot_query::max_page, s->limit - s->asked));
  q.kind = "channel";
  self->request(s->sup, probe_timeout, rt::snapshot_atom::value, q)
    .then(
      [self, s, done](rt::subtree_snapshot& snap) {
        auto remaining = std::make_shared<size_t>(0);
        bool more = snap.next_cursor != 0;
        s->after = snap.next_cursor;
        auto next = [self, s, done, more] {
          if (more)
            passivate_step(self, s);
          else
            done();
        };
        auto& names = *self->state.ctx->names;
        std::vector<caf::actor> targets;
        for (auto& row : snap.children)
          if (row.actor_id != 0)
            if (auto ch = names.get("channel", row.key); ch && ch.id() == row.actor_id)
              targets.push_back(ch);
        *remaining = targets.size();
        s->asked += targets.size();
        for (auto& ch : targets)
          self->request(ch, probe_timeout, admin_probe_atom::value, uint32_t{0}, true)
            .then(
              [s, remaining, next](channel_probe& p) {
                if (p.passivated)
                  ++s->passivated;
                if (--*remaining == 0)
                  next();
              },
              [remaining, next](caf::error&) {
                if (--*remaining == 0)
                  next();
              });
        if (targets.empty())
          next();
      },
      [self](caf::error& err) { fail_request(self, err); });
}

void passivate(admin_actor* self, const action_body& b) {
  auto s = std::make_shared<passivate_state>();
  if (b.limit) {
    if (*b.limit == 0)
      return fail(self, 400, "bad_value", "limit must be 1..10000");
    s->limit = std::min<uint64_t>(*b.limit, max_passivate);
  }
  self->state.audit.target = "channels";
  s->sup = self->state.ctx->names->get("supervisor", "channels");
  if (!s->sup)
    return fail(self, 503, "unavailable", "channels supervisor is restarting");
  passivate_step(self, s);
}

void audit_page(admin_actor* self, const route& r) {
  uint64_t after = 0;
  uint32_t limit = 50;
  if (auto a = r.param("after")) {
    auto v = parse_u64(*a);
    if (!v)
      return fail(self, 400, "bad_value", "after must be an audit record id");
    after = *v;
  }
  if (auto l = r.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return fail(self, 400, "bad_value", "limit must be 1..200");
    limit = static_cast<uint32_t>(std::min<uint64_t>(*v, max_audit_page));
  }
  auto w = self->state.ctx->names->get("admin", "admin");
  if (!w)
    return fail(self, 503, "unavailable", "the admin worker is restarting");
  self->request(w, 10s, audit_page_atom::value, after, limit)
    .then([self](std::string& out) { ok(self, std::move(out)); },
          [self](caf::error&) {
            fail(self, 500, "storage_failed", "could not read the audit log");
          });
}

// -- /metrics ------------------------------------------------------------------------

void metrics(admin_actor* self) {
  node_snapshot(self, [self](rt::subtree_snapshot& root) {
    auto t = totals_of(root);
    std::string out;
    rt::metrics::global().render(out);
    rt::metrics::text_writer w{out};
    w.family("sb_connections", "Open WebSocket sessions (connection actors).", "gauge")
      .sample("sb_connections", static_cast<double>(t.connections));
    w.family("sb_online_users", "Running user actors (users with a session).", "gauge")
      .sample("sb_online_users", static_cast<double>(t.users));
    w.family("sb_channel_actors", "Running channel actors.", "gauge")
      .sample("sb_channel_actors", static_cast<double>(t.channels));
    w.family("sb_actor_restarts_total", "Restarts performed by supervisors, by actor kind.",
             "counter");
    for (auto& [kind, k] : t.kinds)
      w.sample("sb_actor_restarts_total", {{"kind", kind}}, static_cast<double>(k.restarts));
    w.family("sb_mailbox_depth_max", "Deepest mailbox among actors of a kind, at scrape time.",
             "gauge");
    for (auto& [kind, k] : t.kinds)
      w.sample("sb_mailbox_depth_max", {{"kind", kind}},
               static_cast<double>(k.max_mailbox_depth));
    if (auto* pool = self->state.ctx->writer) {
      auto s = pool->stats();
      w.family("sb_durable_commits_total", "Synced RocksDB writes of the group commit.",
               "counter")
        .sample("sb_durable_commits_total", static_cast<double>(s.commits));
      w.family("sb_durable_rejected_total", "Writes refused because the writer queue was full.",
               "counter")
        .sample("sb_durable_rejected_total", static_cast<double>(s.rejected_busy));
      w.family("sb_durable_failed_total", "Batches whose durable write failed.", "counter")
        .sample("sb_durable_failed_total", static_cast<double>(s.failed_batches));
    }
    w.family("sb_process_resident_memory_bytes", "Resident set size.", "gauge")
      .sample("sb_process_resident_memory_bytes", static_cast<double>(rss_bytes()));
    w.family("sb_uptime_seconds", "Seconds since the process started.", "gauge")
      .sample("sb_uptime_seconds",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - process_start)
                .count());
    answer(self, 200, std::move(out), "ok", "text/plain; version=0.0.4; charset=utf-8");
  });
}

// -- routing -------------------------------------------------------------------------

/// Constant-time token check: both sides are hashed first, so neither the comparison
/// nor its length check depends on where the strings differ.
bool token_matches(std::string_view given, const std::string& expected) {
  unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
  crypto_generichash(a, sizeof a, reinterpret_cast<const unsigned char*>(given.data()),
                     given.size(), nullptr, 0);
  crypto_generichash(b, sizeof b, reinterpret_cast<const unsigned char*>(expected.data()),
                     expected.size(), nullptr, 0);
  return sodium_memcmp(a, b, sizeof a) == 0;
}

void route_admin(admin_actor* self, const http_request& req, const route& r) {
  auto& st = self->state;
  auto& p = r.parts; // "admin", "api", ...
  chat_metrics::get().admin_requests.inc();
  st.audit.method = req.method.substr(0, 16);
  st.audit.path = r.path.substr(0, 256);
  st.audit.query = r.query.substr(0, 256);
  constexpr std::string_view prefix = "Bearer ";
  std::string_view auth = req.authorization;
  bool has_token = auth.size() > prefix.size() && auth.substr(0, prefix.size()) == prefix;
  st.audit.who = has_token ? "invalid-token" : "anonymous";
  if (st.ctx->admin_token.empty()) {
    st.audit.method.clear(); // nothing to protect, nothing to audit
    return fail(self, 404, "admin_disabled", "the admin API is disabled (no --admin-token)");
  }
  if (!has_token)
    return fail(self, 401, "unauthorized", "send Authorization: Bearer <admin token>");
  if (!token_matches(auth.substr(prefix.size()), st.ctx->admin_token))
    return fail(self, 401, "unauthorized", "invalid admin token");
  st.audit.who = "admin-token";
  if (r.bad_query)
    return fail(self, 400, "bad_value", "malformed query string");
  auto& m = req.method;
  auto n = p.size();
  if (n == 3 && p[2] == "overview")
    return m == "GET" ? overview(self) : fail(self, 405, "method_not_allowed", "use GET");
  if (n == 3 && p[2] == "topology")
    return m == "GET" ? topology(self, r) : fail(self, 405, "method_not_allowed", "use GET");
  if (n == 3 && p[2] == "audit")
    return m == "GET" ? audit_page(self, r) : fail(self, 405, "method_not_allowed", "use GET");
  if (n == 3 && p[2] == "actors")
    return m == "GET" ? top_actors(self, r) : fail(self, 405, "method_not_allowed", "use GET");
  bool is_action = (n == 4 && p[2] == "actors" && p[3] == "stop")
                   || (n == 5 && p[2] == "users" && p[4] == "disconnect")
                   || (n == 4 && p[2] == "channels" && p[3] == "passivate");
  if (is_action) {
    if (m != "POST")
      return fail(self, 405, "method_not_allowed", "use POST");
    auto body = parse_action(req.body);
    if (!body)
      return fail(self, 400, "bad_json", "the body is not a JSON object");
    if (body->wrong_type)
      return fail(self, 400, "wrong_type", "kind and key must be strings, limit a number");
    if (p[2] == "actors")
      return stop_actor(self, *body);
    if (p[2] == "users")
      return disconnect_user(self, p[3]);
    return passivate(self, *body);
  }
  if (n == 5 && p[2] == "actors") {
    if (m != "GET")
      return fail(self, 405, "method_not_allowed", "use GET");
    return actor_detail(self, p[3], p[4]);
  }
  fail(self, 404, "not_found", "no such endpoint");
}

caf::behavior admin_impl(admin_actor* self, node_context_ptr ctx, http_request req,
                         responder respond) {
  self->state.ctx = std::move(ctx);
  self->state.respond = std::move(respond);
  auto r = split(req.target);
  if (r.parts.size() == 1 && r.parts[0] == "metrics") {
    if (req.method != "GET")
      fail(self, 405, "method_not_allowed", "use GET");
    else
      metrics(self);
  } else {
    route_admin(self, req, r);
  }
  if (self->state.answered)
    return {};
  // Alive until its requests answer (every one has a timeout), then answer() quits.
  return {[](idle_atom, uint64_t) {}};
}

// -- the admin worker ----------------------------------------------------------------

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
  // Unauthenticated calls are audited at most 10 per second, so a flood of bad tokens
  // cannot grow the store without bound.
  int64_t anon_window_ms = 0;
  uint32_t anon_in_window = 0;
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
  auto& r = rates();
  r.events_in = static_cast<double>(b.events - a.events) / dt;
  r.events_out = static_cast<double>(b.delivered - a.delivered) / dt;
  r.commits = static_cast<double>(b.commits - a.commits) / dt;
  r.cpu_cores = (b.cpu - a.cpu) / dt;
  auto window = b.commit_latency.minus(a.commit_latency);
  r.p50_ms = window.quantile(0.50) * 1000;
  r.p99_ms = window.quantile(0.99) * 1000;
}

caf::behavior admin_worker(rt::supervised_actor* self, node_context_ptr ctx) {
  auto ws = std::make_shared<worker_state>();
  self->send(self, tick_atom::value);
  return {
    [self, ctx, ws](tick_atom) {
      sample_rates(*ws, *ctx);
      if (ws->ticks++ % audit_prune_every_ticks == 0)
        prune_audit(*ctx);
      self->delayed_send(self, 1s, tick_atom::value);
    },
    [ctx, ws](audit_atom, audit_record& rec) {
      auto now = unix_ms();
      if (rec.who != "admin-token") {
        if (now - ws->anon_window_ms >= 1000) {
          ws->anon_window_ms = now;
          ws->anon_in_window = 0;
        }
        if (++ws->anon_in_window > 10)
          return;
      }
      auto id = std::max(ws->last_audit_id + 1, static_cast<uint64_t>(now) << 16);
      ws->last_audit_id = id;
      std::string v;
      protocol::json_writer w{v};
      w.begin_object().field("id", std::to_string(id)).key("time").sint(now)
        .field("who", rec.who).field("method", rec.method).field("path", rec.path)
        .field("query", rec.query).field("target", rec.target)
        .field("status", uint64_t{rec.status}).field("code", rec.code).end_object();
      // Actions are synced before the next record; reads ride on the next sync (a clean
      // shutdown flushes them too).
      bool sync = rec.method != "GET";
      if (auto s = ctx->db->put_record(storage::table::audit, audit_key(id), v, sync); !s.ok())
        runtime::log::error("audit_write_failed", {{"path", rec.path}});
    },
    [ctx](audit_page_atom, uint64_t after, uint32_t limit) -> caf::result<std::string> {
      auto from = after == 0 ? std::string{} : audit_key(after);
      auto page = ctx->db->scan_records(storage::table::audit, "", from, limit);
      if (!page)
        return caf::make_error(caf::sec::runtime_error);
      std::string out;
      protocol::json_writer w{out};
      w.begin_object().key("records").begin_array();
      for (auto& [k, v] : *page)
        w.raw(v);
      w.end_array();
      if (page->size() == limit && !page->empty())
        w.field("next_after", std::to_string(audit_id_of(page->back().first)));
      else
        w.key("next_after").null();
      w.end_object();
      return out;
    },
  };
}

} // namespace

bool is_admin_target(std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  return path == "/metrics" || path == "/admin/api" || path.substr(0, 11) == "/admin/api/";
}

void serve_admin(caf::actor_system& sys, node_context_ptr ctx, transport::http_request req,
                 std::function<void(transport::http_response)> respond) {
  sys.spawn(admin_impl, std::move(ctx), std::move(req), std::move(respond));
}

runtime::child_spec admin_worker_spec(node_context_ptr ctx) {
  chat_metrics::get(); // every chat metric is listed from start-up on, at zero
  runtime::child_spec cs;
  cs.id = "admin";
  cs.kind = "admin";
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) {
    return c.self->spawn<caf::detached>(admin_worker, ctx);
  };
  return cs;
}

} // namespace sb::actors
