// http_api: routes and handlers of the HTTP API (see http_api.hpp, docs/protocol.md).
#include "actors/http_api.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <simdjson.h>
#include <sodium.h>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>

#include "accounts/accounts.hpp"
#include "accounts/workspaces.hpp"
#include "actors/admin_api.hpp"
#include "actors/channel.hpp"
#include "actors/chat_error.hpp"
#include "actors/channel_directory.hpp"
#include "actors/chat_messages.hpp"
#include "actors/presence.hpp"
#include "actors/reader.hpp"
#include "actors/user.hpp"
#include "actors/static_files.hpp"
#include "protocol/client_op.hpp"
#include "transport/url.hpp"
#include "protocol/encode.hpp"
#include "protocol/json_writer.hpp"
#include "protocol/utf8.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/errors.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"
#include "storage/ids.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "transport/server.hpp"

namespace sb::actors::http_detail {

struct blocking_result;

/// A blocking piece of a request, run on the auth worker.
struct blocking_call {
  std::function<blocking_result()> fn;
};

/// Its answer, plus ids the request continues with (e.g. channels to leave).
struct blocking_result {
  transport::http_response response;
  std::vector<uint64_t> follow_up;
};

} // namespace sb::actors::http_detail

// Node-local closures and responses; they never cross a node boundary.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::http_detail::blocking_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::http_detail::blocking_result)

namespace sb::actors {

namespace {

using namespace std::chrono_literals;
using transport::http_request;
using transport::http_response;
using responder = std::function<void(http_response)>;

using signup_atom = caf::atom_constant<caf::atom("signup")>;
using login_atom = caf::atom_constant<caf::atom("login")>;
using logout_atom = caf::atom_constant<caf::atom("logout")>;
using run_atom = caf::atom_constant<caf::atom("run")>;

constexpr size_t max_message_chars = 4000;
/// Largest `users` list a body may carry (group DMs: 8 others plus the caller).
constexpr size_t max_body_users = 8;

// -- responses -----------------------------------------------------------------------

http_response json(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http_response error(unsigned status, std::string_view code, std::string_view message) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().field("code", code).field("message", message).end_object();
  return json(status, std::move(out));
}

unsigned status_of(std::string_view code) {
  if (code == "forbidden")
    return 403;
  if (code == "not_found")
    return 404;
  if (code == "rate_limited")
    return 429;
  if (code == "archived")
    return 409;
  if (code == "overloaded" || code == "unavailable" || code == "timeout")
    return 503;
  if (code == "storage_failed" || code == "internal")
    return 500;
  return 400;
}

/// Accounts errors cross from the auth worker as caf::errors of category "sb_acct".
caf::error account_error(const accounts::error& e) {
  return caf::error{static_cast<uint8_t>(e.code), caf::atom("sb_acct"),
                    caf::make_message(e.message)};
}

http_response error(const accounts::error& err);

http_response error(const caf::error& err) {
  if (err.category() == caf::atom("sb_acct")) {
    accounts::error e{static_cast<accounts::errc>(err.code()), ""};
    if (err.context().match_elements<std::string>())
      e.message = err.context().get_as<std::string>(0);
    return error(e);
  }
  auto [code, message] = describe(err);
  return error(status_of(code), code, message);
}

http_response error(const accounts::error& err) {
  auto code = accounts::to_string(err.code);
  unsigned status = 400;
  switch (err.code) {
    case accounts::errc::invalid_credentials:
    case accounts::errc::invalid_token: status = 401; break;
    case accounts::errc::name_taken: status = 409; break;
    case accounts::errc::not_found: status = 404; break;
    case accounts::errc::forbidden: status = 403; break;
    case accounts::errc::storage: status = 500; break;
    default: break;
  }
  return error(status, code, err.message);
}

void write_user(protocol::json_writer& w, const accounts::user& u) {
  w.begin_object().id_field("id", u.id).field("name", u.name)
    .field("display_name", u.display_name).end_object();
}

/// A channel object, as `ready` lists it (protocol::append_channel_object).
std::string channel_json(const channel_summary& c) {
  std::string out;
  protocol::append_channel_object(out, to_wire(c));
  return out;
}

std::string workspace_json(const accounts::workspace& ws) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().id_field("id", ws.id).field("name", ws.name).id_field("owner", ws.owner)
    .field("created", ws.created_ms).end_object();
  return out;
}

// -- request parsing -----------------------------------------------------------------

/// The body's fields we understand; absent fields stay empty. Nullopt: not a JSON object.
struct body_fields {
  std::optional<std::string> name, password, display_name, kind, text, nonce, user, topic,
    workspace, status, custom;
  std::optional<uint64_t> seq;
  std::optional<std::vector<std::string>> users; // at most max_body_users strings
  std::optional<uint64_t> thread_root;
  std::string bad; // names a field with the wrong type
};

std::optional<body_fields> parse_body(const std::string& body) {
  body_fields out;
  if (body.empty())
    return out;
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded{body};
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc))
    return std::nullopt;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj))
    return std::nullopt;
  for (auto field_result : obj) {
    simdjson::ondemand::field field;
    if (std::move(field_result).get(field))
      return std::nullopt;
    std::string_view key;
    if (field.unescaped_key().get(key))
      return std::nullopt;
    auto value = field.value();
    auto take_string = [&](std::optional<std::string>& dst) {
      std::string_view s;
      if (value.get_string().get(s))
        out.bad = std::string{key};
      else
        dst = std::string{s};
    };
    if (key == "name") take_string(out.name);
    else if (key == "password") take_string(out.password);
    else if (key == "display_name") take_string(out.display_name);
    else if (key == "kind") take_string(out.kind);
    else if (key == "text") take_string(out.text);
    else if (key == "nonce") take_string(out.nonce);
    else if (key == "user") take_string(out.user);
    else if (key == "topic") take_string(out.topic);
    else if (key == "workspace") take_string(out.workspace);
    else if (key == "status") take_string(out.status);
    else if (key == "custom") take_string(out.custom);
    else if (key == "seq") {
      uint64_t v = 0;
      if (value.get_uint64().get(v))
        out.bad = "seq";
      else
        out.seq = v;
    }
    else if (key == "users") {
      simdjson::ondemand::array arr;
      if (value.get_array().get(arr)) {
        out.bad = "users";
      } else {
        std::vector<std::string> list;
        for (auto item : arr) {
          std::string_view sv;
          if (item.get_string().get(sv) || list.size() >= 64) {
            out.bad = "users";
            break;
          }
          list.emplace_back(sv);
        }
        out.users = std::move(list);
      }
    }
    else if (key == "thread_root") {
      uint64_t v = 0;
      if (value.get_uint64().get(v))
        out.bad = "thread_root";
      else
        out.thread_root = v;
    }
    // Unknown fields are ignored: iterating to the next field skips them.
    if (!out.bad.empty())
      return out;
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS)
    return std::nullopt; // trailing data after the object
  return out;
}

using transport::parse_u64;

/// Path split at '/', query parsed into pairs.
struct route {
  std::vector<std::string_view> parts;
  std::vector<std::pair<std::string_view, std::string_view>> query;
  std::optional<std::string_view> param(std::string_view k) const {
    for (auto& [a, b] : query)
      if (a == k)
        return b;
    return std::nullopt;
  }
};

route split(std::string_view target) {
  route r;
  auto q = target.find('?');
  auto path = target.substr(0, q);
  if (q != std::string_view::npos) {
    auto qs = target.substr(q + 1);
    while (!qs.empty()) {
      auto amp = qs.find('&');
      auto kv = qs.substr(0, amp);
      auto eq = kv.find('=');
      r.query.emplace_back(kv.substr(0, eq),
                           eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1));
      if (amp == std::string_view::npos)
        break;
      qs = qs.substr(amp + 1);
    }
  }
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    r.parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      break;
    path = path.substr(slash);
  }
  return r;
}


std::string bearer(const std::string& authorization) {
  constexpr std::string_view prefix = "Bearer ";
  if (authorization.size() > prefix.size() && authorization.compare(0, prefix.size(), prefix) == 0)
    return authorization.substr(prefix.size());
  return {};
}

// -- the request actor ---------------------------------------------------------------

struct request_state {
  node_context_ptr ctx;
  responder respond;
  bool answered = false;
  static inline const char* name = "http_request";
};

using request_actor = caf::stateful_actor<request_state>;

void answer(request_actor* self, http_response r) {
  auto& st = self->state;
  if (!st.answered) {
    st.answered = true;
    st.respond(std::move(r));
  }
  self->quit();
}

/// Appends `draft` to `channel` and continues with the committed event.
void append(request_actor* self, uint64_t channel, storage::event draft,
            std::function<void(storage::event&)> ok,
            std::function<void(const caf::error&)> fail = nullptr) {
  if (!fail)
    fail = [self](const caf::error& err) { answer(self, error(err)); };
  with_channel(
    self, self->state.ctx, channel,
    [self, draft, ok, fail](channel_actor ch) {
      self->request(ch, 30s, append_atom::value, draft)
        .then([ok](storage::event& ev) { ok(ev); }, [fail](caf::error& err) { fail(err); });
    },
    [fail](caf::error err) { fail(err); });
}

std::string committed_json(const storage::event& ev) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().id_field("channel", ev.channel_id).field("seq", ev.seq)
    .id_field("id", ev.id).field("time", ev.time_ms).end_object();
  return out;
}

/// Runs `fn` (blocking RocksDB reads and synced writes) on the detached auth worker, so a
/// cooperative scheduler thread never waits for an fsync, and answers with its response.
void offload_then(request_actor* self, std::function<http_detail::blocking_result()> fn,
                  std::function<void(http_detail::blocking_result&)> k) {
  auto auth = self->state.ctx->names->get("auth", "auth");
  if (!auth)
    return answer(self, error(503, "unavailable", "auth worker restarting"));
  self->request(auth, 30s, run_atom::value, http_detail::blocking_call{std::move(fn)})
    .then([k](http_detail::blocking_result& r) { k(r); },
          [self](caf::error& err) { answer(self, error(err)); });
}

void offload(request_actor* self, std::function<http_response()> fn) {
  offload_then(
    self, [fn] { return http_detail::blocking_result{fn(), {}}; },
    [self](http_detail::blocking_result& r) { answer(self, std::move(r.response)); });
}

/// Appends member_leave of `user` to each of `channels` in turn (skipping channels they
/// already left), then answers `done`.
void leave_channels(request_actor* self, uint64_t author, uint64_t user,
                    std::shared_ptr<const std::vector<uint64_t>> channels, size_t i,
                    http_response done) {
  if (i == channels->size())
    return answer(self, std::move(done));
  storage::event d;
  d.kind = storage::event_kind::member_leave;
  d.author = author;
  d.subject = user == author ? 0 : user;
  auto next = [self, author, user, channels, i, done] {
    leave_channels(self, author, user, channels, i + 1, done);
  };
  append(self, (*channels)[i], d, [next](storage::event&) { next(); },
         [self, next](const caf::error& err) {
           if (describe(err).first != "bad_request") // "not a member" is done
             return answer(self, error(err));
           next();
         });
}

/// Parses an optional `after` id/seq and `limit` (default 100, capped at `cap`) query.
struct page_query {
  uint64_t after = 0;
  size_t limit = 100;
};
std::optional<page_query> parse_page(const route& r, size_t cap) {
  page_query q;
  if (auto a = r.param("after")) {
    auto v = parse_u64(*a);
    if (!v)
      return std::nullopt;
    q.after = *v;
  }
  if (auto l = r.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return std::nullopt;
    q.limit = static_cast<size_t>(std::min<uint64_t>(*v, cap));
  }
  return q;
}

/// `{"members":[user...],"has_more":bool}` for one page of member ids (a full page may
/// have more after it).
http_response members_page(const accounts::service& accts, const std::vector<uint64_t>& ids,
                           size_t limit) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().key("members").begin_array();
  for (auto u : ids)
    if (auto user = accts.get(u))
      write_user(w, *user);
  w.end_array().field("has_more", ids.size() == limit).end_object();
  return json(200, std::move(out));
}

/// Whether `user` is a durable member of `channel` (a point read of the members index).
bool is_channel_member(storage::store& db, uint64_t channel, uint64_t user) {
  auto m = db.members_of(channel, user - 1, 1);
  return m && !m->empty() && m->front() == user;
}

/// A channel's summary with its head, or nullopt when it does not exist.
std::optional<channel_summary> load_summary(storage::store& db, uint64_t channel) {
  auto rec = db.channel_info(channel);
  if (!rec || !*rec)
    return std::nullopt;
  auto s = summary_of(**rec);
  if (auto last = db.last_seq(channel))
    s.head = *last;
  return s;
}

void append_channel_created(request_actor* self, const accounts::user& who, uint64_t id,
                            const std::string& name, const std::string& kind,
                            uint64_t workspace, std::function<void(uint64_t)> done);

/// Creates a channel: channel_created then the creator's member_join. The workspace's
/// channel index entry is written first, unsynced: the synced channel_created write makes
/// it durable too (one WAL), and browsing skips an entry whose channel never got created.
void create_channel(request_actor* self, const accounts::user& who, std::string name,
                    std::string kind, uint64_t workspace, std::function<void(uint64_t)> done) {
  auto ctx = self->state.ctx;
  auto id = ctx->ids->next();
  offload_then(
    self,
    [ctx, who, workspace, id]() -> http_detail::blocking_result {
      if (workspace != accounts::default_workspace) {
        auto ws = ctx->workspaces->get(workspace);
        if (!ws)
          return {error(ws.error()), {}};
        auto member = ctx->workspaces->is_member(workspace, who.id);
        if (!member)
          return {error(member.error()), {}};
        if (!*member)
          return {error(403, "forbidden", "not a member of this workspace"), {}};
      }
      if (auto indexed = ctx->workspaces->add_channel(workspace, id, false); !indexed)
        return {error(indexed.error()), {}};
      return {json(200, ""), {id}};
    },
    [self, who, name, kind, workspace, done](http_detail::blocking_result& r) {
      if (r.follow_up.empty())
        return answer(self, std::move(r.response));
      append_channel_created(self, who, r.follow_up.front(), name, kind, workspace, done);
    });
}

/// channel_created, then the creator's member_join; `done` gets the channel id.
void append_channel_created(request_actor* self, const accounts::user& who, uint64_t id,
                            const std::string& name, const std::string& kind,
                            uint64_t workspace, std::function<void(uint64_t)> done) {
  storage::event created;
  created.kind = storage::event_kind::channel_created;
  created.author = who.id;
  created.text = name;
  created.channel_kind = kind;
  created.subject = workspace;
  append(self, id, created, [self, id, who, done](storage::event&) {
    storage::event join;
    join.kind = storage::event_kind::member_join;
    join.author = who.id;
    append(self, id, join, [id, done](storage::event&) { done(id); });
  });
}

void list_channels(request_actor* self, const accounts::user& who) {
  auto reader = storage_reader(self->state.ctx);
  if (!reader)
    return answer(self, error(503, "unavailable", "storage reader restarting"));
  self->request(reader, 30s, ready_atom::value, who.id,
                self->state.ctx->limits.max_channels_per_user)
    .then(
      [self](std::vector<channel_summary>& chans) {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().key("channels").begin_array();
        for (auto& c : chans)
          w.raw(channel_json(c));
        w.end_array().end_object();
        answer(self, json(200, std::move(out)));
      },
      [self](caf::error& err) { answer(self, error(err)); });
}

/// Checks (through the channel actor) that `who` is a member, then asks the reader.
template <class Request, class OnPage>
void member_read(request_actor* self, const accounts::user& who, uint64_t channel,
                 Request req, OnPage on_page) {
  with_channel(
    self, self->state.ctx, channel,
    [self, who, req, on_page](channel_actor ch) {
      self->request(ch, 10s, member_check_atom::value, who.id)
        .then(
          [self, req, on_page](bool member) {
            if (!member)
              return answer(self, error(403, "forbidden", "not a member of this channel"));
            auto reader = storage_reader(self->state.ctx);
            if (!reader)
              return answer(self, error(503, "unavailable", "storage reader restarting"));
            req(reader).then([on_page](history_page& p) { on_page(p); },
                             [self](caf::error& err) { answer(self, error(err)); });
          },
          [self](caf::error& err) { answer(self, error(err)); });
    },
    [self](caf::error err) { answer(self, error(err)); });
}

void history(request_actor* self, const accounts::user& who, uint64_t channel,
             const route& r) {
  auto dir = history_direction::before;
  uint64_t anchor = storage::latest_seq;
  uint32_t limit = 50;
  if (auto l = r.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return answer(self, error(400, "bad_value", "limit must be a positive integer"));
    limit = static_cast<uint32_t>(std::min<uint64_t>(*v, 200));
  }
  int anchors = 0;
  for (auto name : {"before", "after", "around"}) {
    auto p = r.param(name);
    if (!p)
      continue;
    ++anchors;
    auto v = parse_u64(*p);
    if (!v || (*v == 0 && std::string_view{name} != "after"))
      return answer(self, error(400, "bad_value", std::string{name} + " must be a seq"));
    anchor = *v;
    dir = std::string_view{name} == "before"  ? history_direction::before
          : std::string_view{name} == "after" ? history_direction::after
                                              : history_direction::around;
  }
  if (anchors > 1)
    return answer(self, error(400, "bad_value", "use at most one of before, after, around"));
  member_read(
    self, who, channel,
    [self, channel, dir, anchor, limit](reader_actor reader) {
      return self->request(reader, 30s, history_atom::value, channel, dir, anchor, limit);
    },
    [self, channel, dir](history_page& p) {
      if (dir == history_direction::before)
        std::reverse(p.events.begin(), p.events.end());
      answer(self, json(200, protocol::encode_history("", channel, p.events, p.has_more)));
    });
}

/// GET /api/channels/{id}/threads/{root}: the root message, then its replies, oldest first.
void thread_replies(request_actor* self, const accounts::user& who, uint64_t channel,
                    uint64_t root, const route& r) {
  auto q = parse_page(r, 200);
  if (!q)
    return answer(self, error(400, "bad_value", "after must be a seq, limit 1..200"));
  auto after = q->after;
  auto limit = static_cast<uint32_t>(q->limit);
  member_read(
    self, who, channel,
    [self, channel, root, after, limit](reader_actor reader) {
      return self->request(reader, 30s, thread_atom::value, channel, root, after, limit);
    },
    [self, channel](history_page& p) {
      answer(self, json(200, protocol::encode_history("", channel, p.events, p.has_more)));
    });
}

void send_message(request_actor* self, const accounts::user& who, uint64_t channel,
                  body_fields& b) {
  if (!b.text)
    return answer(self, error(400, "missing_field", "text is required"));
  auto chars = protocol::utf8_length(*b.text);
  if (!chars)
    return answer(self, error(400, "bad_utf8", "text is not valid UTF-8"));
  if (*chars == 0)
    return answer(self, error(400, "empty_text", "text must not be empty"));
  if (*chars > max_message_chars)
    return answer(self, error(400, "text_too_long", "text is longer than 4000 characters"));
  if (b.nonce && b.nonce->size() > storage::max_nonce_bytes)
    return answer(self, error(400, "nonce_too_long", "nonce is longer than 64 bytes"));
  storage::event d;
  d.kind = storage::event_kind::message;
  d.author = who.id;
  d.text = std::move(*b.text);
  d.nonce = b.nonce.value_or("");
  d.thread_root = b.thread_root.value_or(0);
  append(self, channel, std::move(d),
         [self](storage::event& ev) { answer(self, json(201, committed_json(ev))); });
}

/// A DM being opened: its members join one after another.
struct dm_opening {
  uint64_t id = 0;
  accounts::user who;
  std::vector<uint64_t> order; // the caller first
  channel_summary summary;
};

/// Adds member `i` of `op` (skipping one already in), then the next; answers at the end.
void join_dm_members(request_actor* self, std::shared_ptr<const dm_opening> op, size_t i) {
  if (i == op->order.size()) {
    std::string out;
    protocol::json_writer w{out};
    w.begin_object().raw_field("channel", channel_json(op->summary)).end_object();
    return answer(self, json(200, std::move(out)));
  }
  storage::event j;
  j.kind = storage::event_kind::member_join;
  j.author = op->who.id;
  j.subject = op->order[i] == op->who.id ? 0 : op->order[i];
  append(self, op->id, j, [self, op, i](storage::event&) { join_dm_members(self, op, i + 1); },
         [self, op, i](const caf::error& err) {
           if (describe(err).first != "bad_request") // "already a member" is done
             return answer(self, error(err));
           join_dm_members(self, op, i + 1);
         });
}

void create_dm(request_actor* self, const accounts::user& who, uint64_t id,
               const std::vector<uint64_t>& members, const std::string& text);

/// Opens the DM (one other user) or group DM (up to 8 others) of exactly these members:
/// the same member set always maps to the same channel.
void open_dm(request_actor* self, const accounts::user& who, std::vector<uint64_t> others) {
  auto& ctx = self->state.ctx;
  std::vector<uint64_t> members = others;
  members.push_back(who.id);
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (members.size() < 2)
    return answer(self, error(400, "bad_value", "a DM needs another user"));
  if (members.size() > max_body_users + 1)
    return answer(self, error(400, "bad_value", "a group DM has at most 9 members"));
  // One record per member set (the sorted ids), so the same set always opens one channel.
  std::string key = storage::schema::dm_key(members);
  std::string text;
  for (auto m : members)
    text += (text.empty() ? "" : ",") + std::to_string(m);
  // Claiming the member set's channel id is a synced write: on the auth worker.
  auto fresh = ctx->ids->next();
  offload_then(
    self,
    [ctx, who, members, key, fresh]() -> http_detail::blocking_result {
      for (auto m : members)
        if (m != who.id && !ctx->accounts->get(m))
          return {error(404, "not_found", "no such user"), {}};
      auto put =
        ctx->db->put_record_if_absent(storage::table::dms, key, storage::keys::id_key(fresh));
      if (!put)
        return {error(500, "storage_failed", "could not store the DM"), {}};
      if (*put)
        return {json(200, ""), {fresh}};
      auto existing = ctx->db->get_record(storage::table::dms, key);
      if (!existing || !*existing || (*existing)->size() != 8)
        return {error(500, "storage_failed", "could not read the DM"), {}};
      return {json(200, ""), {storage::keys::get_be64((*existing)->data())}};
    },
    [self, who, members, text](http_detail::blocking_result& r) {
      if (r.follow_up.empty())
        return answer(self, std::move(r.response));
      create_dm(self, who, r.follow_up.front(), members, text);
    });
}

/// Appends the DM's channel_created (if not there yet) and its members' joins.
void create_dm(request_actor* self, const accounts::user& who, uint64_t id,
               const std::vector<uint64_t>& members, const std::string& text) {
  auto op = std::make_shared<dm_opening>();
  op->id = id;
  op->who = who;
  op->summary.id = id;
  op->summary.kind = "dm";
  op->summary.fixed_members = members;
  // Idempotent creation: steps already done answer bad_request and are skipped, so a DM
  // whose creation was interrupted is completed by the next open. The caller joins first.
  op->order.push_back(who.id);
  for (auto m : members)
    if (m != who.id)
      op->order.push_back(m);
  storage::event created;
  created.kind = storage::event_kind::channel_created;
  created.author = who.id;
  created.channel_kind = "dm";
  created.text = text;
  append(self, id, created, [self, op](storage::event&) { join_dm_members(self, op, 0); },
         [self, op](const caf::error& err) {
           if (describe(err).first != "bad_request") // "channel already exists" is done
             return answer(self, error(err));
           join_dm_members(self, op, 0);
         });
}

/// The workspace routes: /api/workspaces[/{id}[/members[/{user}]|/channels]].
void route_workspaces(request_actor* self, const accounts::user& who, http_request& req,
                      route& r, body_fields& b) {
  auto& m = req.method;
  auto& p = r.parts;
  auto ctx = self->state.ctx;
  auto* wss = ctx->workspaces;
  if (p.size() == 2) {
    if (m == "POST") {
      if (!b.name)
        return answer(self, error(400, "missing_field", "name is required"));
      auto name = *b.name;
      return offload(self, [wss, who, name] {
        auto ws = wss->create(name, who.id);
        if (!ws)
          return error(ws.error());
        return json(201, "{\"workspace\":" + workspace_json(*ws) + "}");
      });
    }
    if (m == "GET") {
      return offload(self, [wss, who] {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().key("workspaces").begin_array();
        w.raw(workspace_json(*wss->get(accounts::default_workspace)));
        auto mine = wss->of_user(who.id, 0, accounts::max_workspace_page);
        if (!mine)
          return error(mine.error());
        for (auto id : *mine)
          if (auto ws = wss->get(id))
            w.raw(workspace_json(*ws));
        w.end_array().end_object();
        return json(200, std::move(out));
      });
    }
    return answer(self, error(405, "method_not_allowed", "use GET or POST"));
  }
  auto ws_id = parse_u64(p[2]);
  if (!ws_id)
    return answer(self, error(404, "not_found", "no such workspace"));
  auto id = *ws_id;
  // Every route below needs the caller to be a member (so non-members learn nothing).
  auto guarded = [wss, who, id](std::function<http_response(const accounts::workspace&)> k) {
    return [wss, who, id, k] {
      auto ws = wss->get(id);
      if (!ws)
        return error(ws.error());
      auto member = wss->is_member(id, who.id);
      if (!member)
        return error(member.error());
      if (!*member)
        return error(403, "forbidden", "not a member of this workspace");
      return k(*ws);
    };
  };
  if (p.size() == 3 && m == "GET") {
    return offload(self, guarded([wss, who](const accounts::workspace& ws) {
      auto role = wss->role(ws.id, who.id);
      std::string out;
      protocol::json_writer w{out};
      w.begin_object().raw_field("workspace", workspace_json(ws))
        .field("role", role && *role == accounts::workspace_role::owner ? "owner" : "member")
        .end_object();
      return json(200, std::move(out));
    }));
  }
  if (p.size() == 4 && p[3] == "members" && m == "GET") {
    auto q = parse_page(r, accounts::max_workspace_page);
    if (!q)
      return answer(self, error(400, "bad_value", "after must be a user id, limit 1..1000"));
    return offload(self, guarded([wss, ctx, q](const accounts::workspace& ws) {
      if (ws.id == accounts::default_workspace)
        return error(400, "bad_request", "every user belongs to the default workspace");
      auto page = wss->members(ws.id, q->after, q->limit);
      if (!page)
        return error(page.error());
      return members_page(*ctx->accounts, *page, q->limit);
    }));
  }
  if (p.size() == 4 && p[3] == "members" && m == "POST") {
    auto other = b.user ? parse_u64(*b.user) : std::nullopt;
    if (!other)
      return answer(self, error(400, "bad_value", "user must be a user id string"));
    auto u = *other;
    return offload(self, guarded([wss, ctx, u](const accounts::workspace& ws) {
      if (!ctx->accounts->get(u))
        return error(404, "not_found", "no such user");
      auto added = wss->add_member(ws.id, u);
      if (!added)
        return error(added.error());
      return json(200, *added ? R"({"added":true})" : R"({"added":false})");
    }));
  }
  if (p.size() == 5 && p[3] == "members" && m == "DELETE") {
    auto other = parse_u64(p[4]);
    if (!other)
      return answer(self, error(404, "not_found", "no such user"));
    auto u = *other;
    // The user also leaves every channel of the workspace they are in.
    auto g = guarded([wss, who, u](const accounts::workspace& ws) {
      if (u != who.id && ws.owner != who.id)
        return error(403, "forbidden", "only the owner removes other members");
      auto removed = wss->remove_member(ws.id, u);
      if (!removed)
        return error(removed.error());
      return json(200, *removed ? R"({"removed":true})" : R"({"removed":false})");
    });
    return offload_then(
      self,
      [g, ctx, u, id] {
        http_detail::blocking_result out{g(), {}};
        if (out.response.status != 200)
          return out;
        uint64_t after = 0;
        for (;;) {
          auto page = ctx->db->channels_of(u, after, 1000);
          if (!page)
            break;
          for (auto ch : *page)
            if (auto rec = ctx->db->channel_info(ch); rec && *rec && (*rec)->workspace == id)
              out.follow_up.push_back(ch);
          if (page->size() < 1000)
            break;
          after = page->back();
        }
        return out;
      },
      [self, who, u](http_detail::blocking_result& r) {
        if (r.follow_up.empty())
          return answer(self, std::move(r.response));
        auto chans = std::make_shared<const std::vector<uint64_t>>(std::move(r.follow_up));
        leave_channels(self, who.id, u, chans, 0, std::move(r.response));
      });
  }
  if (p.size() == 4 && p[3] == "channels" && m == "GET") {
    // Browse: public channels of the workspace, plus private ones the caller is in.
    auto q = parse_page(r, 200);
    if (!q)
      return answer(self, error(400, "bad_value", "after must be a channel id, limit 1..200"));
    return offload(self, guarded([wss, ctx, who, q](const accounts::workspace& ws) {
      auto page = wss->channels(ws.id, q->after, q->limit);
      if (!page)
        return error(page.error());
      std::string out;
      protocol::json_writer w{out};
      w.begin_object().key("channels").begin_array();
      for (auto ch : *page) {
        auto s = load_summary(*ctx->db, ch);
        if (!s || s->kind == "dm")
          continue;
        bool member = is_channel_member(*ctx->db, ch, who.id);
        if (s->kind != "public" && !member)
          continue;
        w.begin_object().raw_field("channel", channel_json(*s)).field("member", member)
          .end_object();
      }
      w.end_array();
      if (page->size() == q->limit)
        w.id_field("next", page->back()); // pass as `after` for the next page
      w.end_object();
      return json(200, std::move(out));
    }));
  }
  answer(self, error(404, "not_found", "no such endpoint"));
}

/// Appends the channel_updated events of `attrs` one after another; answers the last.
void update_channel(request_actor* self, uint64_t author, uint64_t channel,
                    std::vector<std::pair<std::string, std::string>> attrs) {
  if (attrs.empty())
    return answer(self, error(400, "missing_field", "name or topic is required"));
  auto [attr, value] = attrs.front();
  attrs.erase(attrs.begin());
  storage::event d;
  d.kind = storage::event_kind::channel_updated;
  d.author = author;
  d.attribute = attr;
  d.text = value;
  append(self, channel, d, [self, author, channel, attrs](storage::event& ev) {
    if (attrs.empty())
      return answer(self, json(200, committed_json(ev)));
    update_channel(self, author, channel, attrs);
  });
}

// -- read state and presence --------------------------------------------------------------

/// The same object as the WebSocket `read_state` frame.
std::string read_state_json(const read_state_info& info) {
  return protocol::encode_read_state(
    "", info.channel, info.thread_root,
    protocol::read_counts{info.last_read, info.unread, info.mentions});
}

void presence_json(protocol::json_writer& w, const std::vector<protocol::presence_entry>& users) {
  w.key("users").begin_array();
  for (auto& e : users) {
    std::string obj;
    protocol::append_presence_object(obj, e);
    w.raw(obj);
  }
  w.end_array();
}

/// POST /api/channels/{id}/read, GET /api/channels/{id}/reads, GET /api/unread,
/// GET /api/threads, GET|PUT /api/presence, GET /api/workspaces/{id}/online.
/// Returns false when the route is none of these.
bool route_read_state(request_actor* self, const accounts::user& who, http_request& req,
                      route& r, body_fields& b) {
  auto& m = req.method;
  auto& p = r.parts;
  auto ctx = self->state.ctx;
  if (p.size() == 4 && p[1] == "channels" && p[3] == "read") {
    if (m != "POST")
      return answer(self, error(405, "method_not_allowed", "use POST")), true;
    auto channel = parse_u64(p[2]);
    if (!channel)
      return answer(self, error(404, "not_found", "no such channel")), true;
    if (!b.seq)
      return answer(self, error(400, "missing_field", "seq is required")), true;
    if (b.thread_root && *b.thread_root == 0)
      return answer(self, error(400, "bad_value", "thread_root must be >= 1")), true;
    auto seq = *b.seq;
    auto root = b.thread_root.value_or(0);
    with_channel(
      self, ctx, *channel,
      [self, who, seq, root](channel_actor ch) {
        self->request(ch, 30s, mark_read_atom::value, who.id, seq, root, caf::actor{})
          .then([self](read_state_info& info) { answer(self, json(200, read_state_json(info))); },
                [self](caf::error& err) { answer(self, error(err)); });
      },
      [self](caf::error err) { answer(self, error(err)); });
    return true;
  }
  if (p.size() == 4 && p[1] == "channels" && p[3] == "reads" && m == "GET") {
    // "Seen by": each member's cursor, for members of the channel.
    auto channel = parse_u64(p[2]);
    if (!channel)
      return answer(self, error(404, "not_found", "no such channel")), true;
    auto q = parse_page(r, 200);
    if (!q)
      return answer(self, error(400, "bad_value", "after and limit must be integers")), true;
    auto id = *channel;
    auto page = *q;
    with_channel(
      self, ctx, id,
      [self, who, id, page](channel_actor ch) {
        self->request(ch, 10s, member_check_atom::value, who.id)
          .then(
            [self, id, page](bool member) {
              if (!member)
                return answer(self, error(403, "forbidden", "not a member of this channel"));
              auto db = self->state.ctx->db;
              offload(self, [db, id, page] {
                auto members = db->members_of(id, page.after, page.limit);
                if (!members)
                  return error(500, "storage_failed", "reading members");
                std::string out;
                protocol::json_writer w{out};
                w.begin_object().key("reads").begin_array();
                for (auto u : *members) {
                  auto cursor = db->read_state(u, id);
                  w.begin_object().id_field("user", u).field("last_read", cursor ? *cursor : 0)
                    .end_object();
                }
                w.end_array().field("has_more", members->size() == page.limit).end_object();
                return json(200, std::move(out));
              });
            },
            [self](caf::error& err) { answer(self, error(err)); });
      },
      [self](caf::error err) { answer(self, error(err)); });
    return true;
  }
  if (p.size() == 2 && p[1] == "unread" && m == "GET") {
    // The badge: totals over the caller's channels, one reader request.
    auto reader = storage_reader(ctx);
    if (!reader)
      return answer(self, error(503, "unavailable", "storage reader restarting")), true;
    self->request(reader, 30s, ready_atom::value, who.id, ctx->limits.max_channels_per_user)
      .then(
        [self](std::vector<channel_summary>& chans) {
          uint64_t unread = 0, mentions = 0;
          std::string list;
          protocol::json_writer lw{list};
          lw.begin_array();
          for (auto& c : chans) {
            unread += c.unread;
            mentions += c.mentions;
            lw.begin_object().id_field("channel", c.id).field("head", c.head)
              .field("last_read", c.last_read).field("unread", c.unread)
              .field("mentions", c.mentions).end_object();
          }
          lw.end_array();
          std::string out;
          protocol::json_writer w{out};
          w.begin_object().field("unread", unread).field("mentions", mentions)
            .raw_field("channels", list).end_object();
          answer(self, json(200, std::move(out)));
        },
        [self](caf::error& err) { answer(self, error(err)); });
    return true;
  }
  if (p.size() == 2 && p[1] == "threads" && m == "GET") {
    auto q = parse_page(r, 200);
    if (!q)
      return answer(self, error(400, "bad_value", "limit must be an integer")), true;
    auto db = ctx->db;
    auto limit = q->limit;
    offload(self, [db, who, limit] {
      auto threads = db->followed_threads(who.id, {0, 0}, limit);
      if (!threads)
        return error(500, "storage_failed", "reading followed threads");
      std::string out;
      protocol::json_writer w{out};
      w.begin_object().key("threads").begin_array();
      for (auto& t : *threads)
        w.begin_object().id_field("channel", t.channel).field("root", t.root)
          .field("reply_count", t.stats.reply_count).field("last_reply_seq", t.stats.last_reply_seq)
          .field("last_read", t.last_read).field("unread", t.unread).end_object();
      w.end_array().end_object();
      return json(200, std::move(out));
    });
    return true;
  }
  if (p.size() == 2 && p[1] == "presence") {
    if (m == "PUT") {
      if (!b.status)
        return answer(self, error(400, "missing_field", "status is required")), true;
      auto status = *b.status;
      if (status != "online" && status != "away" && status != "dnd")
        return answer(self, error(400, "bad_value", "status must be online, away or dnd")), true;
      if (b.custom) {
        auto chars = protocol::utf8_length(*b.custom);
        if (!chars)
          return answer(self, error(400, "bad_utf8", "custom is not valid UTF-8")), true;
        if (*chars > protocol::max_custom_status_chars)
          return answer(self, error(400, "text_too_long", "custom: more than 100 characters")),
                 true;
      }
      bool has_custom = b.custom.has_value();
      auto custom = b.custom.value_or("");
      with_user(
        self, ctx, who.id,
        [self, status, has_custom, custom](caf::actor u) {
          self->request(u, 10s, presence_atom::value, status, has_custom, custom)
            .then([self](bool) { answer(self, json(200, "{}")); },
                  [self](caf::error& err) { answer(self, error(err)); });
        },
        [self](caf::error err) { answer(self, error(err)); });
      return true;
    }
    if (m != "GET")
      return answer(self, error(405, "method_not_allowed", "use GET or PUT")), true;
    auto list = r.param("users");
    if (!list)
      return answer(self, error(400, "missing_field", "users is required")), true;
    std::vector<uint64_t> ids;
    std::string_view rest = *list;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto id = parse_u64(rest.substr(0, comma));
      if (!id || ids.size() == 64)
        return answer(self, error(400, "bad_value", "users: at most 64 comma-separated ids")), true;
      ids.push_back(*id);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    auto dir = ctx->names->get("presence", "presence");
    if (!dir)
      return answer(self, error(503, "unavailable", "presence restarting")), true;
    self->request(dir, 10s, presence_query_atom::value, ids)
      .then(
        [self](std::vector<protocol::presence_entry>& users) {
          std::string out;
          protocol::json_writer w{out};
          w.begin_object();
          presence_json(w, users);
          w.end_object();
          answer(self, json(200, std::move(out)));
        },
        [self](caf::error& err) { answer(self, error(err)); });
    return true;
  }
  if (p.size() == 4 && p[1] == "workspaces" && p[3] == "online" && m == "GET") {
    auto ws = parse_u64(p[2]);
    if (!ws)
      return answer(self, error(404, "not_found", "no such workspace")), true;
    auto q = parse_page(r, 1000);
    if (!q)
      return answer(self, error(400, "bad_value", "after and limit must be integers")), true;
    auto id = *ws;
    auto page = *q;
    auto* wss = ctx->workspaces;
    // Membership is a point read (auth worker); the answer itself comes from memory.
    offload_then(
      self,
      [wss, who, id] {
        if (id == accounts::default_workspace || !wss)
          return http_detail::blocking_result{json(200, "{}"), {}};
        auto member = wss->is_member(id, who.id);
        if (!member)
          return http_detail::blocking_result{error(member.error()), {}};
        if (!*member)
          return http_detail::blocking_result{
            error(403, "forbidden", "not a member of this workspace"), {}};
        return http_detail::blocking_result{json(200, "{}"), {}};
      },
      [self, id, page](http_detail::blocking_result& res) {
        if (res.response.status != 200)
          return answer(self, std::move(res.response));
        auto dir = self->state.ctx->names->get("presence", "presence");
        if (!dir)
          return answer(self, error(503, "unavailable", "presence restarting"));
        self->request(dir, 10s, presence_online_atom::value, id, page.after,
                      static_cast<uint32_t>(page.limit))
          .then(
            [self](std::vector<protocol::presence_entry>& users, bool more) {
              std::string out;
              protocol::json_writer w{out};
              w.begin_object();
              presence_json(w, users);
              w.field("has_more", more).end_object();
              answer(self, json(200, std::move(out)));
            },
            [self](caf::error& err) { answer(self, error(err)); });
      });
    return true;
  }
  return false;
}

/// Routes that need a logged-in user.
void route_authenticated(request_actor* self, const accounts::user& who, http_request& req,
                         route& r, body_fields& b) {
  auto& m = req.method;
  auto& p = r.parts;
  if (p.size() == 2 && p[1] == "me" && m == "GET") {
    std::string out;
    protocol::json_writer w{out};
    w.begin_object().key("user");
    write_user(w, who);
    w.end_object();
    return answer(self, json(200, std::move(out)));
  }
  if (p.size() >= 2 && p[1] == "users" && m == "GET") {
    // GET /api/users?name=ada or /api/users/{id}: find someone to DM or invite.
    auto& accts = *self->state.ctx->accounts;
    std::optional<accounts::result<accounts::user>> found;
    if (p.size() == 2) {
      auto name = r.param("name");
      if (!name)
        return answer(self, error(400, "missing_field", "name is required"));
      auto decoded = transport::percent_decode(*name);
      if (!decoded)
        return answer(self, error(400, "bad_value", "name is not percent-encoded"));
      found.emplace(accts.find(*decoded));
    } else if (p.size() == 3) {
      auto id = parse_u64(p[2]);
      if (!id)
        return answer(self, error(404, "not_found", "no such user"));
      found.emplace(accts.get(*id));
    } else {
      return answer(self, error(404, "not_found", "no such endpoint"));
    }
    if (!*found)
      return answer(self, error(found->error()));
    std::string out;
    protocol::json_writer w{out};
    w.begin_object().key("user");
    write_user(w, **found);
    w.end_object();
    return answer(self, json(200, std::move(out)));
  }
  if (route_read_state(self, who, req, r, b))
    return;
  if (p.size() >= 2 && p[1] == "workspaces")
    return route_workspaces(self, who, req, r, b);
  if (p.size() == 2 && p[1] == "channels") {
    if (m == "GET")
      return list_channels(self, who);
    if (m == "POST") {
      auto kind = b.kind.value_or("public");
      if (kind != "public" && kind != "private")
        return answer(self, error(400, "bad_value", "kind must be public or private"));
      if (!b.name || b.name->empty() || b.name->size() > storage::max_channel_name_bytes)
        return answer(self, error(400, "bad_value", "name must be 1..80 bytes"));
      if (!protocol::utf8_length(*b.name))
        return answer(self, error(400, "bad_utf8", "name is not valid UTF-8"));
      uint64_t workspace = accounts::default_workspace;
      if (b.workspace) {
        auto v = parse_u64(*b.workspace);
        if (!v)
          return answer(self, error(400, "bad_value", "workspace must be a workspace id string"));
        workspace = *v;
      }
      auto name = *b.name;
      return create_channel(self, who, name, kind, workspace,
                            [self, name, kind, workspace](uint64_t id) {
        channel_summary s;
        s.id = id;
        s.name = name;
        s.kind = kind;
        s.head = 2;
        s.workspace = workspace;
        answer(self, json(201, "{\"channel\":" + channel_json(s) + "}"));
      });
    }
    return answer(self, error(405, "method_not_allowed", "use GET or POST"));
  }
  if (p.size() == 2 && p[1] == "dms" && m == "POST") {
    std::vector<uint64_t> others;
    if (b.users) {
      for (auto& u : *b.users) {
        auto v = parse_u64(u);
        if (!v)
          return answer(self, error(400, "bad_value", "users must be user id strings"));
        others.push_back(*v);
      }
    } else if (b.user) {
      auto v = parse_u64(*b.user);
      if (!v)
        return answer(self, error(400, "bad_value", "user must be a user id string"));
      others.push_back(*v);
    } else {
      return answer(self, error(400, "missing_field", "user or users is required"));
    }
    return open_dm(self, who, std::move(others));
  }
  if (p.size() >= 3 && p[1] == "channels") {
    auto channel = parse_u64(p[2]);
    if (!channel)
      return answer(self, error(404, "not_found", "no such channel"));
    auto ctx = self->state.ctx;
    auto ch = *channel;
    if (p.size() == 3 && m == "GET") {
      // Details: members see every channel; others only public channels of a workspace
      // they belong to (what browsing shows them).
      return offload(self, [ctx, who, ch] {
        auto s = load_summary(*ctx->db, ch);
        if (!s)
          return error(404, "not_found", "no such channel");
        bool member = is_channel_member(*ctx->db, ch, who.id);
        if (!member) {
          auto in_ws = ctx->workspaces->is_member(s->workspace, who.id);
          if (s->kind != "public" || !in_ws || !*in_ws)
            return error(403, "forbidden", "not a member of this channel");
        }
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().raw_field("channel", channel_json(*s)).field("member", member)
          .end_object();
        return json(200, std::move(out));
      });
    }
    if (p.size() == 3 && m == "PATCH") {
      std::vector<std::pair<std::string, std::string>> attrs;
      if (b.name) {
        if (b.name->empty() || b.name->size() > storage::max_channel_name_bytes
            || !protocol::utf8_length(*b.name))
          return answer(self, error(400, "bad_value", "name must be 1..80 bytes of UTF-8"));
        attrs.emplace_back(std::string{storage::channel_attr_name}, *b.name);
      }
      if (b.topic) {
        if (b.topic->size() > storage::max_channel_topic_bytes
            || !protocol::utf8_length(*b.topic))
          return answer(self, error(400, "bad_value", "topic must be 0..1000 bytes of UTF-8"));
        attrs.emplace_back(std::string{storage::channel_attr_topic}, *b.topic);
      }
      return update_channel(self, who.id, ch, std::move(attrs));
    }
    if (p.size() == 4 && (p[3] == "archive" || p[3] == "unarchive") && m == "POST")
      return update_channel(self, who.id, ch,
                            {{std::string{storage::channel_attr_archived},
                              p[3] == "archive" ? "1" : "0"}});
    if (p.size() == 5 && p[3] == "threads" && m == "GET") {
      auto root = parse_u64(p[4]);
      if (!root || *root == 0)
        return answer(self, error(404, "not_found", "no such thread root"));
      return thread_replies(self, who, ch, *root, r);
    }
    if (p.size() == 4 && p[3] == "members" && m == "GET") {
      auto q = parse_page(r, 1000);
      if (!q)
        return answer(self, error(400, "bad_value", "after must be a user id, limit 1..1000"));
      return offload(self, [ctx, who, ch, q] {
        if (!is_channel_member(*ctx->db, ch, who.id))
          return error(403, "forbidden", "not a member of this channel");
        auto page = ctx->db->members_of(ch, q->after, q->limit);
        if (!page)
          return error(500, "storage_failed", "could not read the members");
        return members_page(*ctx->accounts, *page, q->limit);
      });
    }
    if (p.size() == 4 && p[3] == "messages") {
      if (m == "GET")
        return history(self, who, *channel, r);
      if (m == "POST")
        return send_message(self, who, *channel, b);
      return answer(self, error(405, "method_not_allowed", "use GET or POST"));
    }
    if ((p.size() == 5 || p.size() == 7) && (p[3] == "messages" || p[3] == "pins")) {
      auto seq = parse_u64(p[4]);
      if (!seq || *seq == 0)
        return answer(self, error(404, "not_found", "no such message"));
      storage::event d;
      d.author = who.id;
      d.target_seq = *seq;
      if (p.size() == 5 && p[3] == "messages" && (m == "PATCH" || m == "DELETE")) {
        d.kind = m == "PATCH" ? storage::event_kind::edit : storage::event_kind::remove;
        if (d.kind == storage::event_kind::edit) {
          if (!b.text)
            return answer(self, error(400, "missing_field", "text is required"));
          auto chars = protocol::utf8_length(*b.text);
          if (!chars || *chars == 0 || *chars > max_message_chars)
            return answer(self, error(400, "bad_value", "text must be 1..4000 characters of UTF-8"));
          d.text = std::move(*b.text);
        }
      } else if (p.size() == 5 && p[3] == "pins" && (m == "PUT" || m == "DELETE")) {
        d.kind = m == "PUT" ? storage::event_kind::pin : storage::event_kind::unpin;
      } else if (p.size() == 7 && p[3] == "messages" && p[5] == "reactions"
                 && (m == "PUT" || m == "DELETE")) {
        auto emoji = transport::percent_decode(p[6]);
        if (!emoji || emoji->empty() || emoji->size() > storage::max_emoji_bytes
            || !protocol::utf8_length(*emoji))
          return answer(self, error(400, "bad_value", "emoji must be 1..64 bytes of UTF-8"));
        d.kind = m == "PUT" ? storage::event_kind::reaction_add
                            : storage::event_kind::reaction_remove;
        d.emoji = std::move(*emoji);
      } else {
        return answer(self, error(405, "method_not_allowed", "unsupported method"));
      }
      return append(self, *channel, d, [self](storage::event& ev) {
        answer(self, json(200, committed_json(ev)));
      });
    }
    if (p.size() == 4 && (p[3] == "join" || p[3] == "leave") && m == "POST") {
      storage::event d;
      d.kind = p[3] == "join" ? storage::event_kind::member_join
                              : storage::event_kind::member_leave;
      d.author = who.id;
      return append(self, *channel, d, [self](storage::event& ev) {
        answer(self, json(200, committed_json(ev)));
      });
    }
    if (p.size() == 4 && p[3] == "members" && m == "POST") {
      auto other = b.user ? parse_u64(*b.user) : std::nullopt;
      if (!other)
        return answer(self, error(400, "bad_value", "user must be a user id string"));
      if (!self->state.ctx->accounts->get(*other))
        return answer(self, error(404, "not_found", "no such user"));
      storage::event d;
      d.kind = storage::event_kind::member_join;
      d.author = who.id;
      d.subject = *other;
      return append(self, *channel, d, [self](storage::event& ev) {
        answer(self, json(200, committed_json(ev)));
      });
    }
  }
  answer(self, error(404, "not_found", "no such endpoint"));
}

caf::behavior request_impl(request_actor* self, node_context_ptr ctx, http_request req,
                           responder respond) {
  self->state.ctx = ctx;
  self->state.respond = std::move(respond);
  auto r = split(req.target);
  if (r.parts.empty() || r.parts[0] != "api") {
    answer(self, static_files::serve(req.method, req.target)); // web client, admin console
    return {};
  }
  auto body = parse_body(req.body);
  if (!body) {
    answer(self, error(400, "bad_json", "the body is not a JSON object"));
    return {};
  }
  if (!body->bad.empty()) {
    answer(self, error(400, "wrong_type", "field '" + body->bad + "' has the wrong type"));
    return {};
  }
  auto auth = ctx->names->get("auth", "auth");
  auto& p = r.parts;
  if (p.size() == 2 && (p[1] == "signup" || p[1] == "login") && req.method == "POST") {
    if (!auth) {
      answer(self, error(503, "unavailable", "auth worker restarting"));
      return {};
    }
    if (!body->name || !body->password) {
      answer(self, error(400, "missing_field", "name and password are required"));
      return {};
    }
    if (p[1] == "signup") {
      self->request(auth, 30s, signup_atom::value, *body->name, *body->password,
                    body->display_name.value_or(""))
        .then([self](std::string& out) { answer(self, json(201, std::move(out))); },
              [self](caf::error& err) { answer(self, error(err)); });
    } else {
      self->request(auth, 30s, login_atom::value, *body->name, *body->password)
        .then([self](std::string& out) { answer(self, json(200, std::move(out))); },
              [self](caf::error& err) { answer(self, error(err)); });
    }
    return {[](idle_atom, uint64_t) {}};
  }
  auto token = bearer(req.authorization);
  if (token.empty()) {
    answer(self, error(401, "unauthorized", "send Authorization: Bearer <token>"));
    return {};
  }
  auto who = ctx->accounts->authenticate(token);
  if (!who) {
    answer(self, error(401, "invalid_token", "invalid or expired token"));
    return {};
  }
  if (p.size() == 2 && p[1] == "logout" && req.method == "POST") {
    ctx->accounts->log_out(token);
    answer(self, json(200, "{}"));
    return {};
  }
  route_authenticated(self, *who, req, r, *body);
  if (self->state.answered)
    return {};
  // Keep the actor alive until its requests answer (they always do: every request has a
  // timeout), then it quits in answer().
  return {[](idle_atom, uint64_t) {}};
}


/// How often the auth worker sweeps expired sessions, and how many entries one step reads.
constexpr auto token_sweep_interval = std::chrono::minutes(10);
constexpr auto token_sweep_step_pause = std::chrono::milliseconds(50);
constexpr size_t token_sweep_step = 1000;

caf::behavior auth_worker(runtime::supervised_actor* self, node_context_ptr ctx) {
  // Expired sessions are swept in bounded steps (a page, then a short pause, so logins
  // are never stuck behind a long scan); a full pass every token_sweep_interval.
  auto cursor = std::make_shared<std::string>();
  self->delayed_send(self, token_sweep_interval, tick_atom::value);
  return {
    [self, ctx, cursor](tick_atom) {
      size_t deleted = 0;
      auto next = ctx->accounts->sweep_expired_tokens(*cursor, token_sweep_step, deleted);
      *cursor = next ? *next : std::string{};
      self->delayed_send(self, cursor->empty() ? std::chrono::milliseconds(token_sweep_interval)
                                               : token_sweep_step_pause,
                         tick_atom::value);
    },
    [](run_atom, http_detail::blocking_call& call) { return call.fn(); },
    [ctx](signup_atom, const std::string& name, const std::string& password,
          const std::string& display) -> caf::result<std::string> {
      auto u = ctx->accounts->sign_up(name, password, display);
      if (!u)
        return account_error(u.error());
      std::string out;
      protocol::json_writer w{out};
      w.begin_object().key("user");
      write_user(w, *u);
      w.end_object();
      return out;
    },
    [ctx](login_atom, const std::string& name,
          const std::string& password) -> caf::result<std::string> {
      auto s = ctx->accounts->log_in(name, password);
      if (!s)
        return account_error(s.error());
      std::string out;
      protocol::json_writer w{out};
      w.begin_object().field("token", s->token).field("expires", s->expires_ms).key("user");
      write_user(w, s->who);
      w.end_object();
      return out;
    },
  };
}

} // namespace

void serve_http(caf::actor_system& sys, node_context_ptr ctx, transport::http_request req,
                std::function<void(transport::http_response)> respond) {
  if (is_admin_target(req.target)) // operator API and /metrics: actors/admin_api.cpp
    return serve_admin(sys, std::move(ctx), std::move(req), std::move(respond));
  sys.spawn(request_impl, std::move(ctx), std::move(req), std::move(respond));
}

runtime::child_spec auth_worker_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "auth";
  cs.kind = "auth";
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) {
    return c.self->spawn<caf::detached>(auth_worker, ctx);
  };
  return cs;
}

} // namespace sb::actors
