// admin_topology: GET /admin/api/topology (paged supervisor snapshots), GET
// /admin/api/actors (top actors by mailbox, handled or restarts) and GET
// /admin/api/actors/{kind}/{key} (one actor's detail, from its supervisor row and probe).
#include <algorithm>
#include <memory>
#include <optional>

#include <caf/event_based_actor.hpp>

#include "actors/chat_messages.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "http/admin_common.hpp"
#include "http/router.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"

namespace sb::http {

namespace {

using namespace std::chrono_literals;
using namespace sb::actors;
namespace rt = runtime;

constexpr uint32_t max_top_actors = 100;
constexpr uint32_t max_scan_pages = 200; // x 1,000 children per supervisor
constexpr size_t max_path_segments = 8;

/// The non-empty '/'-separated parts of a topology path ("node/channels").
std::vector<std::string> path_parts(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    auto slash = path.find('/');
    if (slash != 0)
      out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      break;
    path.remove_prefix(slash + 1);
  }
  return out;
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


/// Resolves `path` ("node", "node/channels", ...) to a supervisor, segment by segment:
/// each one must be a supervisor child of the previous (checked on its snapshot row).
void resolve_path(request_actor* self, std::shared_ptr<std::vector<std::string>> segs,
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
void find_row(request_actor* self, caf::actor sup, std::string key, uint64_t after, int pages,
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

void topology(request_actor* self) {
  auto path = self->state.tgt.param("path").value_or("node");
  auto segs = std::make_shared<std::vector<std::string>>();
  {
    auto parts = path_parts(path);
    if (parts.empty() || parts.size() > max_path_segments || parts.front() != "node")
      return fail(self, 404, "unknown_path", "path must start with 'node' (e.g. node/channels)");
    segs->assign(parts.begin() + 1, parts.end());
  }
  rt::snapshot_query q;
  if (auto a = self->state.tgt.param("after")) {
    auto v = parse_u64(*a);
    if (!v)
      return fail(self, 400, "bad_value", "after must be a cursor (unsigned integer)");
    q.after = *v;
  }
  q.limit = 100;
  if (auto l = self->state.tgt.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return fail(self, 400, "bad_value", "limit must be 1..1000");
    q.limit = static_cast<uint32_t>(std::min<uint64_t>(*v, rt::snapshot_query::max_page));
  }
  if (auto d = self->state.tgt.param("depth")) {
    auto v = parse_u64(*d);
    if (!v || *v > rt::snapshot_query::max_depth)
      return fail(self, 400, "bad_value", "depth must be 0..3");
    q.depth = static_cast<uint32_t>(*v);
  }
  q.kind = self->state.tgt.param("kind").value_or("");
  q.key_prefix = self->state.tgt.param("q").value_or("");
  if (q.kind.size() > 64 || q.key_prefix.size() > 128)
    return fail(self, 400, "bad_value", "kind at most 64 bytes, q at most 128 bytes");
  std::string clean = "node";
  for (auto& s : *segs)
    clean += "/" + s;
  auto walk = [self, segs, q, clean](caf::actor root) {
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
  };
  // ?node=N (cluster mode): another node's tree, through this node's cluster agent and
  // the peer's over BASP; every request on the way has the probe timeout.
  if (auto n = self->state.tgt.param("node")) {
    auto v = parse_u64(*n);
    if (!v || *v > 1023)
      return fail(self, 400, "bad_value", "node must be a node id 0..1023");
    auto& ctx = *self->state.ctx;
    if (ctx.cluster == nullptr && *v != 0)
      return fail(self, 404, "unknown_node", "this node runs alone");
    if (ctx.cluster != nullptr) {
      auto agent = find_actor<cluster_agent_actor>(ctx, cluster_agent_name());
      if (!agent)
        return fail(self, 503, "unavailable", "the cluster agent is restarting; retry");
      self->request(agent, probe_timeout, cluster_root_atom::value, static_cast<uint32_t>(*v))
        .then([walk](caf::actor& root) { walk(root); },
              [self](caf::error& err) { fail_request(self, err); });
      return;
    }
  }
  auto root = self->state.ctx->names->get("supervisor", "node");
  if (!root)
    return fail(self, 503, "unavailable", "the node's supervision tree is not running");
  walk(root);
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

void scan_step(request_actor* self, std::shared_ptr<scan_state> s) {
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

void top_actors(request_actor* self) {
  auto s = std::make_shared<scan_state>();
  s->sort = self->state.tgt.param("sort").value_or("mailbox");
  if (s->sort != "mailbox" && s->sort != "handled" && s->sort != "restarts")
    return fail(self, 400, "bad_value", "sort must be mailbox, handled or restarts");
  if (auto l = self->state.tgt.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return fail(self, 400, "bad_value", "limit must be 1..100");
    s->limit = static_cast<size_t>(std::min<uint64_t>(*v, max_top_actors));
  }
  auto kind = self->state.tgt.param("kind").value_or("");
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
void connection_detail(request_actor* self, std::string row_json, connection_probe p) {
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

void actor_detail(request_actor* self, const std::string& kind, const std::string& key) {
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

} // namespace

void add_admin_topology_routes(std::vector<route>& out) {
  out.insert(out.end(), {
    {"GET", "/admin/api/topology", access::admin, topology},
    {"GET", "/admin/api/actors", access::admin, top_actors},
    {"GET", "/admin/api/actors/{kind}/{key}", access::admin, [](request_actor* self) {
       actor_detail(self, std::string{arg(self, "kind")}, std::string{arg(self, "key")});
     }},
  });
}

} // namespace sb::http
